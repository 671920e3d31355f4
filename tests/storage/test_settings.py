"""Storage settings from the environment: each case runs manage.py in a fresh process with only the given env."""

import base64
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(tmp_path, *, production: bool, **overrides) -> subprocess.CompletedProcess:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "dlsaas.settings",
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(64)),
        "DATABASE_URL": "postgres://dlsaas@127.0.0.1:5432/dlsaas",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "example.test",
        "DLSAAS_VAR_DIR": str(tmp_path / "var"),
        "DLSAAS_MASTER_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        "DLSAAS_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    if production:
        env["DLSAAS_PRODUCTION"] = "1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_starts_with_master_keys(tmp_path):
    result = run_check(tmp_path, production=True)

    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_master_keys(tmp_path):
    result = run_check(tmp_path, production=True, DLSAAS_MASTER_KEYS=None)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DLSAAS_MASTER_KEYS must be set when DLSAAS_PRODUCTION=1." in result.stderr


def test_embedded_mode_derives_a_development_key(tmp_path):
    result = run_check(tmp_path, production=False, DLSAAS_MASTER_KEYS=None, DATABASE_URL=None, REDIS_URL=None)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DLSAAS_STORAGE_EU_BACKEND": "ftp"}, "must be 'local' or 's3'"),
        ({"DLSAAS_STORAGE_EU_BACKEND": "s3"}, "set its bucket"),
        ({"DLSAAS_STORAGE_EU_ROOT": "/srv/one", "DLSAAS_STORAGE_US_ROOT": "/srv/one"}, "its own storage root"),
        ({"DLSAAS_MASTER_KEYS": "k1:short"}, "DLSAAS_MASTER_KEYS"),
    ],
)
def test_storage_misconfiguration_is_refused_in_words(tmp_path, overrides, message):
    result = run_check(tmp_path, production=True, **overrides)

    assert result.returncode != 0
    assert message in result.stderr


def test_an_s3_region_reads_its_bucket_settings_from_the_environment(tmp_path):
    env = {
        "DLSAAS_STORAGE_EU_BACKEND": "s3",
        "DLSAAS_STORAGE_EU_BUCKET": "eu-bucket",
        "DLSAAS_STORAGE_EU_ENDPOINT_URL": "http://127.0.0.1:9",
        "DLSAAS_STORAGE_EU_REGION_NAME": "eu-central-1",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.STORAGE_BACKENDS['eu'], s.STORAGE_S3['eu']['bucket_name'], s.STORAGE_S3['eu']['addressing_style'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "dlsaas.settings",
            "DLSAAS_VAR_DIR": str(tmp_path / "var"),
            **env,
        },
    )

    assert result.stdout.split() == ["s3", "eu-bucket", "path"], result.stderr
