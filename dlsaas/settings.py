"""Settings, read from the environment.

Two ways to run (see DESIGN.md):
- embedded (no DATABASE_URL): SQLite, in-memory channel layer, a stub Dramatiq broker served by an
  in-process worker (`manage.py demo`), local file storage. For a newcomer's `make demo` only.
- production (DATABASE_URL and REDIS_URL set): PostgreSQL as a non-superuser role with row-level
  security, Redis for cache, Channels and Dramatiq. DLSAAS_PRODUCTION=1 turns on the hardening that
  `manage.py check --deploy` asks for.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


PRODUCTION = env_bool("DLSAAS_PRODUCTION")
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DLSAAS_PRODUCTION=1.")
    # Embedded/test mode only: a per-checkout key, never used in production.
    SECRET_KEY = "insecure-embedded-only-" + str(BASE_DIR)

# How many reverse proxies in front of the app append to X-Forwarded-For (0: trust REMOTE_ADDR only).
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
VAR_DIR = Path(env("DLSAAS_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "channels",
    "django_dramatiq",
    "apps.core",
    "apps.tenancy",
    "apps.accounts",
    "apps.compliance",
    "apps.storage",
    "apps.datasets",
    "apps.recipes",
    "apps.annotations",
    "apps.workforce",
    "apps.automation",
    "apps.quality",
    "apps.performance",
    "apps.live",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.IdleLogoffMiddleware",
    "apps.tenancy.middleware.TenantMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dlsaas.urls"
WSGI_APPLICATION = "dlsaas.wsgi.application"
ASGI_APPLICATION = "dlsaas.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.tenancy.context_processors.tenancy",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "demo.sqlite3"}}
if PRODUCTION and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL when DLSAAS_PRODUCTION=1.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Dramatiq --------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    # A worker silent for DLSAAS_DRAMATIQ_HEARTBEAT_MS is dead: its unacked messages go back to their queue at the
    # next queue maintenance (which DLSAAS_DRAMATIQ_MAINTENANCE_CHANCE of a million broker commands run).
    _broker = {"BROKER": "dramatiq.brokers.redis.RedisBroker", "OPTIONS": {
        "url": REDIS_URL, "heartbeat_timeout": int(env("DLSAAS_DRAMATIQ_HEARTBEAT_MS", "60000")),
        "maintenance_chance": int(env("DLSAAS_DRAMATIQ_MAINTENANCE_CHANCE", "1000"))}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    _broker = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}

DRAMATIQ_BROKER = {
    **_broker,
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "dramatiq.middleware.CurrentMessage",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "apps.core.dramatiq_middleware.TenantContextMiddleware",
    ],
}
DRAMATIQ_TASKS_DATABASE = "default"
# Queues: `default` (I/O, bookkeeping) and `gpu` (inference), each per residency region (apps/core/queues.py).

# --- Audit chain sealing (apps/compliance/sealing.py) -----------------------------------------
# After a commit, writers seal their chain at most this often, all processes together (whole seconds across
# processes, through the cache); the relay's sweep seals what is left. 0: every commit seals.
AUDIT_SEAL_DEBOUNCE_SECONDS = float(env("DLSAAS_AUDIT_SEAL_DEBOUNCE_SECONDS", "1"))
# audit_record() prepares its INSERT once per database session (apps/compliance/services.py). Switch it off behind
# a transaction-pooling proxy that does not keep prepared statements (PgBouncer before 1.21).
AUDIT_PREPARED_INSERT = env_bool("DLSAAS_AUDIT_PREPARED_INSERT", True)
# DLSAAS_AUDIT_SIGNING_KEY: base64 of a 32-byte Ed25519 private key that signs audit exports
# (apps/compliance/signing.py); its public key is shown to compliance officers to hand to auditors.
AUDIT_SIGNING_KEY = env("DLSAAS_AUDIT_SIGNING_KEY", "")
if not AUDIT_SIGNING_KEY and PRODUCTION:
    raise ImproperlyConfigured("DLSAAS_AUDIT_SIGNING_KEY must be set when DLSAAS_PRODUCTION=1.")
# Events in one signed export (a longer period is exported in parts).
AUDIT_EXPORT_MAX_EVENTS = int(env("DLSAAS_AUDIT_EXPORT_MAX_EVENTS", "200000"))

# --- Regions and storage roots --------------------------------------------------------------
# DLSAAS_REGIONS="eu,us". Every region has its own backend, and an organisation's bytes are written
# only to the backend of its region (apps/storage/regions.py). Per region <R> (upper case, "-" as "_"):
#   DLSAAS_STORAGE_<R>_BACKEND   local (default) | s3
#   local: DLSAAS_STORAGE_<R>_ROOT (default VAR_DIR/storage/<region>)
#   s3:    DLSAAS_STORAGE_<R>_BUCKET (required), _ENDPOINT_URL (S3-compatible servers; empty for AWS),
#          _ACCESS_KEY_ID, _SECRET_ACCESS_KEY (empty: boto3's own credential chain), _REGION_NAME,
#          _ADDRESSING_STYLE (path | virtual | auto; default path with an endpoint URL, auto without)
REGIONS = env_list("DLSAAS_REGIONS", "eu,us")


def _region_env(region: str, name: str, default: str | None = None) -> str | None:
    return env(f"DLSAAS_STORAGE_{region.upper().replace('-', '_')}_{name}", default)


STORAGE_BACKENDS = {region: (_region_env(region, "BACKEND") or "local").strip().lower() for region in REGIONS}
STORAGE_ROOTS = {region: Path(_region_env(region, "ROOT", str(VAR_DIR / "storage" / region))) for region in REGIONS}
STORAGE_S3 = {
    region: {
        "bucket_name": _region_env(region, "BUCKET", ""),
        "endpoint_url": _region_env(region, "ENDPOINT_URL") or None,
        "access_key": _region_env(region, "ACCESS_KEY_ID") or None,
        "secret_key": _region_env(region, "SECRET_ACCESS_KEY") or None,
        "region_name": _region_env(region, "REGION_NAME") or None,
        "addressing_style": _region_env(region, "ADDRESSING_STYLE")
        or ("path" if _region_env(region, "ENDPOINT_URL") else None),
    }
    for region, backend in STORAGE_BACKENDS.items()
    if backend == "s3"
}
for _region, _backend in STORAGE_BACKENDS.items():
    if _backend not in {"local", "s3"}:
        raise ImproperlyConfigured(f"Storage backend of region {_region!r} must be 'local' or 's3', not {_backend!r}.")
    if _backend == "s3" and not STORAGE_S3[_region]["bucket_name"]:
        raise ImproperlyConfigured(f"Region {_region!r} stores in S3: set its bucket (DLSAAS_STORAGE_<R>_BUCKET).")
# Two regions writing to one place would make residency a label, not a fact.
_places = [
    ("s3", STORAGE_S3[r]["endpoint_url"], STORAGE_S3[r]["bucket_name"]) if b == "s3" else ("local", STORAGE_ROOTS[r])
    for r, b in STORAGE_BACKENDS.items()
]
if len(set(_places)) != len(_places):
    raise ImproperlyConfigured("Every region needs its own storage root or bucket.")


def _processors(value: str | None) -> list[dict]:
    """The processors of the processing register (GDPR art. 30, apps/compliance/console.py). DLSAAS_PROCESSORS: a JSON
    list of {"name", "purpose", "location", "region" (absent: every region)}; by default each region's storage."""
    import json

    if not value:
        return [{"name": "Amazon S3 or S3-compatible object storage" if backend == "s3" else "Operator's file storage",
                 "purpose": "Storing item content, encrypted at rest (AES-256-GCM)", "region": region,
                 "location": (STORAGE_S3[region]["region_name"] or region) if backend == "s3" else region}
                for region, backend in STORAGE_BACKENDS.items()]
    try:
        processors = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured("DLSAAS_PROCESSORS must be a JSON list of objects.") from None
    if not isinstance(processors, list) or not all(isinstance(p, dict) and p.get("name") for p in processors):
        raise ImproperlyConfigured("DLSAAS_PROCESSORS must be a JSON list of objects, each with a name.")
    return processors


PROCESSORS = _processors(env("DLSAAS_PROCESSORS"))

# Plaintext bytes per encrypted chunk (the unit of a range read); stored with each object.
STORAGE_CHUNK_SIZE = int(env("DLSAAS_STORAGE_CHUNK_SIZE", str(1024 * 1024)))
if not 4096 <= STORAGE_CHUNK_SIZE <= 64 * 1024 * 1024:
    raise ImproperlyConfigured("DLSAAS_STORAGE_CHUNK_SIZE must be between 4096 and 67108864 bytes.")


def _master_keys(value: str | None) -> list[tuple[str, bytes]]:
    """DLSAAS_MASTER_KEYS="keyid:base64(32 bytes)[,older-id:...]": the first wraps new keys, the others
    only unwrap keys they wrapped before a rotation."""
    import base64
    import binascii
    import re

    keys = []
    for part in (value or "").split(","):
        if not part.strip():
            continue
        key_id, sep, encoded = part.strip().partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", key_id):
            raise ImproperlyConfigured("DLSAAS_MASTER_KEYS: each entry is keyid:base64 (id of letters, digits, ._-).")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"DLSAAS_MASTER_KEYS: key {key_id!r} is not valid base64.") from None
        if len(raw) != 32:
            raise ImproperlyConfigured(f"DLSAAS_MASTER_KEYS: key {key_id!r} must decode to 32 bytes.")
        if key_id in dict(keys):
            raise ImproperlyConfigured(f"DLSAAS_MASTER_KEYS: key id {key_id!r} appears twice.")
        keys.append((key_id, raw))
    return keys


STORAGE_MASTER_KEYS = _master_keys(env("DLSAAS_MASTER_KEYS"))
if not STORAGE_MASTER_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("DLSAAS_MASTER_KEYS must be set when DLSAAS_PRODUCTION=1.")
    # WARNING: embedded/test mode only. A fixed key derived from SECRET_KEY, so anyone who knows the
    # SECRET_KEY (here, one derived from the checkout path) can decrypt the stored bytes. Never used in
    # production, which refuses to start without DLSAAS_MASTER_KEYS.
    import hashlib as _hashlib

    _dev_key = _hashlib.sha256(b"dlsaas embedded master key\0" + SECRET_KEY.encode()).digest()
    STORAGE_MASTER_KEYS = [("dev-" + _hashlib.sha256(_dev_key).hexdigest()[:12], _dev_key)]

DEFAULT_REGION = env("DLSAAS_DEFAULT_REGION", REGIONS[0])
if DEFAULT_REGION not in REGIONS:
    raise ImproperlyConfigured(f"DLSAAS_DEFAULT_REGION={DEFAULT_REGION!r} is not one of DLSAAS_REGIONS.")

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2

# django-axes: lock an account (per email) after repeated failures.
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(env("AXES_COOLOFF_HOURS", "0.25"))
# Lock the account whatever address the attempts come from (resists brute force spread over many IPs);
# locking by IP alone would lock out a whole office behind one NAT. Hence axes.W006 is silenced.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.lockout_response"
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_VERBOSE = False

# django-guardian: no anonymous user row (we log in by email).
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

OTP_TOTP_ISSUER = "dlsaas"
# Idle logoff when the organisation sets none (minutes).
DEFAULT_IDLE_LOGOFF_MINUTES = int(env("DEFAULT_IDLE_LOGOFF_MINUTES", "60"))
# How often an open websocket checks that its session is not idle (seconds; apps/accounts/idle.py).
LIVE_IDLE_CHECK_SECONDS = float(env("DLSAAS_LIVE_IDLE_CHECK_SECONDS", "30"))
INVITATION_TTL_HOURS = int(env("INVITATION_TTL_HOURS", "72"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "dlsaas <no-reply@dlsaas.invalid>")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", "60/minute"),
        "user": env("API_THROTTLE_USER", "6000/minute"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "dlsaas API",
    "DESCRIPTION": "Data management, annotation, workforce, automation and compliance for AI data.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`; name each choice set once.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "apps.core.jobs.JobStatus",
        "DatasetVersionStatusEnum": "apps.datasets.models.DatasetVersion.Status",
        "AnnotationImportStatusEnum": "apps.annotations.models.AnnotationImportJob.Status",
        "TaskStatusEnum": "apps.workforce.models.Task.Status",
        "TaskStatusChangeEnum": [("active", "Active"), ("paused", "Paused")],
        "TaskMemberRoleEnum": "apps.workforce.models.TaskMember.Role",
        "MemberRoleEnum": "apps.tenancy.roles.Role",
        "PipelineRunStatusEnum": "apps.automation.models.PipelineRun.Status",
        "DataSubjectRequestStatusEnum": "apps.compliance.models.DataSubjectRequest.Status",
        "DataSubjectRequestKindEnum": "apps.compliance.models.DataSubjectRequest.Kind",
        "KindEnum": "apps.datasets.models.Item.Kind",  # the name items had before requests got a kind too
    },
}

# --- Automation -----------------------------------------------------------------------------
# A model upload's trial run (a sample image through onnxruntime) runs in a child process stopped after this long.
MODEL_TRIAL_SECONDS = float(env("DLSAAS_MODEL_TRIAL_SECONDS", "30"))
# After a pipeline's webhook secret is rotated, deliveries carry a signature with the old secret beside the new one
# for this long, so a receiver can switch without refusing a delivery (0, or rotating with grace 0: at once).
WEBHOOK_SECRET_GRACE_SECONDS = int(env("DLSAAS_WEBHOOK_SECRET_GRACE_SECONDS", str(24 * 3600)))

# --- Static, i18n ---------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Outside production, WhiteNoise serves straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Hardening (check --deploy) -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}
