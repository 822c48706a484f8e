# MLflow server and the bucket helper for docker-compose.yml: the same pinned Python tools as the
# local stack (scripts/requirements-stack.txt), plus the Postgres driver for MLflow's backend store.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY scripts/requirements-stack.txt /opt/rps/requirements-stack.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /opt/rps/requirements-stack.txt psycopg2-binary==2.9.13 \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent rps
COPY scripts/s3_buckets.py /opt/rps/s3_buckets.py
USER 10001:10001
CMD ["mlflow", "--version"]
