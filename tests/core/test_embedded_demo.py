"""`make demo` runs on SQLite with no services: migrate, seed, then the newcomer's path through the product
(annotate an item, pull and submit a unit) works there too, in a fresh process with only embedded settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WALK = """
from apps.annotations.services import annotations_change
from apps.tenancy.context import tenant_context
from apps.tenancy.models import Organization
from apps.workforce.models import Task
from apps.workforce.unit_services import task_next, work_item_submit
from django.contrib.auth import get_user_model

org = Organization.objects.get(slug="demo")
annotator = get_user_model().objects.get(email="annotator@demo.dlsaas.test")
with tenant_context(org, annotator):
    task = Task.objects.for_org(org).get()
    unit, _ = task_next(org=org, actor=annotator, task=task)
    owner = get_user_model().objects.get(email="owner@demo.dlsaas.test")
with tenant_context(org, owner):
    changes = annotations_change(org=org, actor=owner, item=unit.item, create=[
        {"type": "bbox", "label": "vehicle", "geometry": {"x": 1, "y": 1, "w": 10, "h": 10}}])
with tenant_context(org, annotator):
    status, body = work_item_submit(org=org, actor=annotator, unit=unit, render=lambda u: {"state": u.state})
units = task.work_items.filter(stage="annotate").count()
print("units", units, "annotation", changes.created[0].label, "submit", status, body["state"])
from apps.compliance.console import audit_event_search
with tenant_context(org, owner):
    print("dataset events found", audit_event_search(org=org, dataset_id=unit.item.dataset_id).exists())
"""


def test_the_embedded_demo_seeds_and_works_on_sqlite(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "dlsaas.settings",
        "DLSAAS_VAR_DIR": str(tmp_path / "var"),
    }

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput")
    seeded = manage("seed_demo")
    walked = manage("shell", "-c", WALK)
    verified = manage("verify_audit_chain")

    assert "recipe 'Everyday objects'" in seeded and "task 'Label the sample photographs'" in seeded
    assert (tmp_path / "var" / "dlsaas.sqlite3").exists() or any((tmp_path / "var").glob("*.sqlite3"))
    assert "annotation vehicle submit 200" in walked
    assert "units 26" in walked  # one per sample photograph
    assert "submit 200 done" in walked or "submit 200 in_review" in walked
    assert "dataset events found True" in walked  # the generated column metadata_dataset_id works on SQLite too
    assert "no broken link" in verified  # the chain seals and verifies on SQLite
