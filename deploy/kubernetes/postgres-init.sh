#!/usr/bin/env bash
# Runs once, when the postgres volume is first created: one database per store, because
# Optuna and MLflow both keep their schema version in a table named `alembic_version`.
set -euo pipefail
for db in optuna mlflow hpsearch; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
SELECT 'CREATE DATABASE $db OWNER "$POSTGRES_USER"'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
SQL
done
