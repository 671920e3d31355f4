"""Intake limits: module defaults, each overridable by a Django setting of the same name."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # media.py
    "INTAKE_MAX_IMAGE_PIXELS": 100_000_000,
    # archives.py
    "INTAKE_ZIP_MAX_ENTRIES": 10_000,
    "INTAKE_ZIP_MAX_TOTAL_BYTES": 20 * 1024**3,
    "INTAKE_ZIP_MAX_ENTRY_BYTES": 2 * 1024**3,
    "INTAKE_ZIP_MAX_RATIO": 100,
    # urls.py
    "URL_IMPORT_MAX_BYTES": 2 * 1024**3,
    "URL_IMPORT_TIMEOUT_SECONDS": 120.0,
    "URL_IMPORT_MAX_REDIRECTS": 3,
    "URL_IMPORT_ALLOWED_PORTS": (80, 443),
    # Tests only: loopback ports a local test server listens on. Empty (the default) blocks all loopback.
    "URL_IMPORT_ALLOW_LOOPBACK_PORTS": (),
    # manifests.py
    "INTAKE_MANIFEST_MAX_ROWS": 10_000_000,
}


def setting(name: str):
    try:
        return getattr(settings, name, DEFAULTS[name])
    except ImproperlyConfigured:  # used outside a configured Django process
        return DEFAULTS[name]
