"""Test settings: the production stack (PostgreSQL as the non-superuser app role, Redis) on loopback."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://dlsaas@127.0.0.1:5432/dlsaas")
# Redis database 15, so tests never share queues or groups with a local `make serve` (database 0).
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DLSAAS_VAR_DIR", os.path.join(tempfile.gettempdir(), "dlsaas-test-var"))

from dlsaas.settings import *  # noqa: F403
from dlsaas.settings import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "1000/minute", "user": "100000/minute"}}
