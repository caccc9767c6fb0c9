# syntax=docker/dockerfile:1
# The hpsearch image: the CLI for `migrate` and `worker`, and the MLflow server (it has mlflow
# and psycopg). Build: docker build -t hpsearch .

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/hpsearch
COPY pyproject.toml README.md ./
COPY hpsearch ./hpsearch
COPY migrations ./migrations
# The wheel must carry the Alembic revisions: put them where package discovery finds them
# as well (harmless when pyproject.toml already maps migrations/ to hpsearch._migrations).
COPY migrations ./hpsearch/_migrations
RUN /opt/hpsearch/bin/pip install --upgrade pip \
 && /opt/hpsearch/bin/pip install . \
 && /opt/hpsearch/bin/python -c "from hpsearch.catalog.migrate import head_revision; head_revision()"

FROM python:3.11-slim
ENV PATH=/opt/hpsearch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HPSEARCH_HOME=/home/hpsearch/hpsearch-data
# A fixed non-root uid, and the folders the compose file mounts volumes on, owned by it
# (a fresh named volume takes the ownership of the folder it is mounted on).
RUN useradd --create-home --uid 10001 --user-group hpsearch \
 && mkdir -p /mlartifacts /home/hpsearch/.cache /home/hpsearch/hpsearch-data \
 && chown hpsearch:hpsearch /mlartifacts /home/hpsearch/.cache /home/hpsearch/hpsearch-data
COPY --from=builder /opt/hpsearch /opt/hpsearch
USER hpsearch
WORKDIR /home/hpsearch
ENTRYPOINT ["hpsearch"]
CMD ["--help"]
