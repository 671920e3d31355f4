#!/bin/sh
# Starts one dlsaas process; the first argument picks which (see README.md "Production").
#   web            daphne (HTTP + websockets) on :8000; runs `migrate` first when MIGRATE_ON_START=1
#   worker         Dramatiq worker on the `default` queues (I/O, bookkeeping); REGION=eu limits the regional ones
#   gpu-worker     Dramatiq worker on the regional `gpu.<region>` queues (inference), one thread per process
#   outbox-relay   sends committed outbox messages to the broker
#   manage ARGS    any manage.py command, e.g. `manage create_org --slug acme ...`
# Anything else is executed as given (e.g. `sh` for a shell in the container).
set -eu

# "<base>.<region>" for each region in REGION (default: every configured region), as apps/core/queues.py names
# them: lower case, anything but letters, digits and "_" as "_".
region_queues() {
  for region in $(printf '%s' "${REGION:-${DLSAAS_REGIONS:-eu,us}}" | tr ',' ' '); do
    printf '%s.%s ' "$1" "$(printf '%s' "$region" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n' '_')"
  done
}

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
    # shellcheck disable=SC2046  # one queue name per word
    exec python manage.py rundramatiq --queues default $(region_queues default) "$@"
    ;;
  gpu-worker)
    # One process per GPU by default: each process holds its own CUDA context and model sessions.
    # REGION=eu serves gpu.eu only (residency: an EU organisation's inference never runs on a US worker).
    # shellcheck disable=SC2046
    exec python manage.py rundramatiq --queues $(region_queues gpu) --threads 1 \
      --processes "${GPU_WORKER_PROCESSES:-1}" "$@"
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
