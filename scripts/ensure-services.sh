#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 (starting them when they do not) and that the
# application's non-superuser database role exists. Used by `make test`; safe to run repeatedly.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=${PG_PORT:-5432}
APP_ROLE=${APP_DB_ROLE:-dlsaas}
REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
if ! pg_up; then
  echo "Starting PostgreSQL..."
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
    exit 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL did not come up on $PG_HOST:$PG_PORT" >&2; exit 1; }

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  echo "Starting Redis..."
  command -v redis-server >/dev/null || { echo "Redis is not installed: apt-get install -y redis-server" >&2; exit 1; }
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
fi
redis_up || { echo "Redis did not come up on 127.0.0.1:$REDIS_PORT" >&2; exit 1; }

# The application connects as a role that is neither superuser nor BYPASSRLS, so row-level
# security applies to it. CREATEDB lets the test runner create its test database.
psql -v ON_ERROR_STOP=1 -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE') THEN
    CREATE ROLE $APP_ROLE LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS;
  ELSE
    ALTER ROLE $APP_ROLE LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS;
  END IF;
END
\$\$;
SQL
if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$APP_ROLE'" | grep -q 1; then
  psql -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -c "CREATE DATABASE $APP_ROLE OWNER $APP_ROLE"
fi
for db in template1 "$APP_ROLE"; do
  psql -v ON_ERROR_STOP=1 -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$db" -f "$(dirname "$0")/../docker/postgres-init/leakproof-jsonb.sql.in"
done
echo "PostgreSQL and Redis are up; role $APP_ROLE ready."
