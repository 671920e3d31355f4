"""The production profile: `check --deploy` passes with production settings, and it refuses to start
without what production needs. Each case runs manage.py in a fresh process with only the given env."""

import base64
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **overrides) -> dict[str, str]:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "dlsaas.settings",
        "DLSAAS_PRODUCTION": "1",
        # A throwaway key, generated here: 64 random characters, never written anywhere.
        "SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(64)),
        "DATABASE_URL": "postgres://dlsaas@127.0.0.1:5432/dlsaas",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "example.test",
        "DLSAAS_VAR_DIR": str(tmp_path / "var"),
        "DLSAAS_MASTER_KEYS": "ci:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DLSAAS_AUDIT_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_the_production_profile(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_is_not_vacuous_a_weak_secret_key_fails(tmp_path):
    result = manage(production_env(tmp_path, SECRET_KEY="too-short"), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("SECRET_KEY", "SECRET_KEY must be set when DLSAAS_PRODUCTION=1."),
        ("DATABASE_URL", "DATABASE_URL must point at PostgreSQL when DLSAAS_PRODUCTION=1."),
        ("DLSAAS_MASTER_KEYS", "DLSAAS_MASTER_KEYS must be set when DLSAAS_PRODUCTION=1."),
        ("DLSAAS_AUDIT_SIGNING_KEY", "DLSAAS_AUDIT_SIGNING_KEY must be set when DLSAAS_PRODUCTION=1."),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(tmp_path, missing, message):
    result = manage(production_env(tmp_path, **{missing: None}), "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
