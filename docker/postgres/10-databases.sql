-- docker-compose.yml: one Postgres for MLflow (POSTGRES_DB) and Airflow's metadata database.
CREATE DATABASE airflow;
