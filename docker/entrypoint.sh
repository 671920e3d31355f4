#!/bin/sh
# Starts one dlsaas process; the first argument picks which (see README.md "Production").
#   web            daphne (HTTP + websockets) on :8000; runs `migrate` first when MIGRATE_ON_START=1
#   worker         Dramatiq worker on the `default` queue (I/O, bookkeeping)
#   gpu-worker     Dramatiq worker on the `gpu` queue (inference), one thread per process
#   outbox-relay   sends committed outbox messages to the broker
#   manage ARGS    any manage.py command, e.g. `manage create_org --slug acme ...`
# Anything else is executed as given (e.g. `sh` for a shell in the container).
set -eu

cmd="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
  web)
    if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
      python manage.py migrate --noinput
    fi
    # Client addresses behind a proxy come from X-Forwarded-For in the app (TRUSTED_PROXY_COUNT), not daphne.
    exec daphne -b 0.0.0.0 -p "${PORT:-8000}" "$@" dlsaas.asgi:application
    ;;
  worker)
    exec python manage.py rundramatiq --queues default "$@"
    ;;
  gpu-worker)
    # One process per GPU by default: each process holds its own CUDA context and model sessions.
    exec python manage.py rundramatiq --queues gpu --threads 1 --processes "${GPU_WORKER_PROCESSES:-1}" "$@"
    ;;
  outbox-relay)
    exec python manage.py outbox_relay "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  -h|--help|help)
    sed -n '2,8p' "$0"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
