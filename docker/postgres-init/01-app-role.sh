#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory
# (/docker-entrypoint-initdb.d). Creates the application's role and database.
#
# The application connects as a role that is neither superuser nor BYPASSRLS, so PostgreSQL's
# row-level security applies to every query it makes (DESIGN.md: the second wall). It owns its
# database, so `manage.py migrate` can create the schema and the policies.
set -eu

: "${DLSAAS_DB_PASSWORD:?DLSAAS_DB_PASSWORD must be set for the postgres service}"
APP_ROLE="${DLSAAS_DB_USER:-dlsaas}"
APP_DB="${DLSAAS_DB_NAME:-dlsaas}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
     -v app_role="$APP_ROLE" -v app_db="$APP_DB" -v app_password="$DLSAAS_DB_PASSWORD" <<'SQL'
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password' NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB;
CREATE DATABASE :"app_db" OWNER :"app_role";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
SQL

# The JSONB operators the item query language uses may run as index conditions under row-level
# security (see scripts/leakproof-jsonb.sql for why this is safe).
for db in template1 "$APP_DB"; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$db" -f /docker-entrypoint-initdb.d/leakproof-jsonb.sql.in
done
