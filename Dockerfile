# rps CLI image: every pipeline command, production dependencies only, non-root.
#   docker build --target cli -t rps:v0.1.0 .          (scripts/docker-image.sh build-cli)
#   docker run --rm -v "$PWD/data:/app/data" rps:v0.1.0 fetch --source replay
# Stages: build (npm ci + tsc), deps (npm ci --omit=dev), runtime (the app), cli (`--target cli`),
# airflow (runtime + Airflow and DVC for docker-compose.yml; `--target airflow`). Always name the
# target: the classic builder (no BuildKit) builds every stage before it, so cli comes before airflow.
# Offline or behind a mirror: --build-arg NODE_IMAGE=... (scripts/base-images.sh builds one).
# Node is pinned to the release scripts/bootstrap-node.sh installs locally; change both together.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY schemas ./schemas
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm run -s build

FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# Production dependencies only. Optional ones stay: nodejs-polars' native binary is an optional
# dependency, so --omit=optional would break every data command. The import proves it is there.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && node --input-type=module -e "await import('nodejs-polars')"

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The command manifest: oclif then imports only the command that runs.
COPY --from=build /src/oclif.manifest.json ./
COPY package.json params.yaml ./
COPY bin/run.js bin/rps ./bin/
COPY schemas ./schemas
COPY data/replay ./data/replay
# data/ and reports/ are where commands write (mount volumes there); the image's files stay root's.
# 1000:1000 is the base image's `node` user (numeric, so the runtime needs no passwd lookup).
RUN ln -s /app/bin/rps /usr/local/bin/rps \
 && mkdir -p /app/data/raw /app/data/processed /app/reports /app/build \
 && chown 1000:1000 /app/data /app/data/raw /app/data/processed /app/reports /app/build
USER 1000:1000

FROM runtime AS cli
ENTRYPOINT ["rps"]
CMD ["--help"]

# For docker-compose.yml only: the Airflow scheduler runs the DAG's `rps` tasks in its own
# container, so it needs rps (above), Airflow (same pins as scripts/requirements-airflow.txt, plus
# which carry the Postgres drivers and the Celery provider of the `celery` profile) and DVC for `rps push`
# (scripts/requirements-stack.txt). Debian 12's python3 is 3.11, the version the pins were made on.
FROM runtime AS airflow
USER 0
# Debian package versions are not pinned: the bookworm point releases replace them (security fixes).
# A CA the base image makes Node trust (NODE_EXTRA_CA_CERTS: scripts/base-images.sh's local base
# behind a TLS-inspecting proxy) is added to the system store, which pip then uses (PIP_CERT):
# without it pip's own bundle rejects the proxy and the install fails. Unset in the official image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -s "${NODE_EXTRA_CA_CERTS:-}" ]; then \
      cp "$NODE_EXTRA_CA_CERTS" /usr/local/share/ca-certificates/rps-node-extra-ca.crt && update-ca-certificates; \
    fi
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
COPY scripts/requirements-airflow.txt scripts/requirements-stack.txt /opt/rps-requirements/
RUN python3 -m venv /opt/venv-airflow \
 && /opt/venv-airflow/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/rps-requirements/requirements-airflow.txt \
 && python3 -m venv /opt/venv-stack \
 && /opt/venv-stack/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/rps-requirements/requirements-stack.txt \
 && mkdir -p /opt/airflow && chown 1000:1000 /opt/airflow
ENV PATH=/opt/venv-airflow/bin:$PATH \
    RPS_VENV=/opt/venv-stack \
    AIRFLOW_HOME=/opt/airflow
USER 1000:1000
ENTRYPOINT ["airflow"]
CMD ["version"]

