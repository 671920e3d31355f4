"""Signed audit exports: what an auditor receives, and that the documented commands check it."""

import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from apps.compliance.models import AuditChainLink, AuditEvent
from apps.compliance.sealing import seal_pending
from apps.compliance.services import audit_record
from apps.tenancy.roles import Role


def _period():
    now = timezone.now()
    return {"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}


def _download(api, params) -> zipfile.ZipFile:
    response = api.get("/api/v1/audit-events/export/", params)
    assert response.status_code == 200, getattr(response, "data", response)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _unzip(bundle: zipfile.ZipFile, folder):
    bundle.extractall(folder)
    return folder


def _run(folder, *command):
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.fixture
def some_events(org_a, owner_a):
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target_label="=HYPERLINK(\"http://x\")",
                 metadata={"why": "ünïcode and \"quotes\"", "nested": {"b": 1, "a": [1, 2]}})
    audit_record(org=org_a, actor=owner_a.user, action="member.removed", target_label="+cmd|' /C calc'!A0")
    seal_pending(org_a.pk)


def test_an_export_holds_the_period_and_verifies_with_the_documented_commands(
        some_events, org_a, owner_a, api_for, tmp_path):
    folder = _unzip(_download(api_for(owner_a), _period()), tmp_path)

    assert sorted(p.name for p in folder.iterdir()) == [
        "VERIFY.txt", "events.csv", "events.json", "manifest.json", "manifest.json.sig", "public_key.pem",
        "verify_chain.py",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    links = json.loads((folder / "events.json").read_text())["links"]
    assert manifest["events"] == len(links) == manifest["last_sequence"] - manifest["first_sequence"] + 1
    actions = [link["values"][7] for link in links]
    assert "item.viewed" in actions and "member.removed" in actions and actions[-1] == "audit.exported"
    head = AuditChainLink.objects.filter(organization=org_a).order_by("-sequence").first()
    assert manifest["last_hash"] == links[-1]["hash"] and manifest["chain_head"]["hash"] == head.hash

    signature = _run(folder, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
                     "-in", "manifest.json", "-sigfile", "manifest.json.sig")
    assert signature.returncode == 0 and "Signature Verified Successfully" in signature.stdout
    chain = _run(folder, sys.executable, "verify_chain.py", ".")
    assert chain.returncode == 0, chain.stdout + chain.stderr
    assert chain.stdout.startswith(f"OK: {manifest['events']} events of {org_a.slug}")
    assert manifest["public_key_sha256"] in chain.stdout


def test_the_csv_neutralises_formulas(some_events, owner_a, api_for, tmp_path):
    folder = _unzip(_download(api_for(owner_a), _period()), tmp_path)

    csv_text = (folder / "events.csv").read_text()
    assert "'=HYPERLINK" in csv_text and "'+cmd|" in csv_text
    assert ",=HYPERLINK" not in csv_text and ",+cmd" not in csv_text


@pytest.mark.parametrize("tamper", ["event", "manifest", "csv"])
def test_a_changed_export_fails_verification(tamper, some_events, owner_a, api_for, tmp_path):
    folder = _unzip(_download(api_for(owner_a), _period()), tmp_path)
    if tamper == "event":  # a changed value, hashes left alone
        data = json.loads((folder / "events.json").read_text())
        data["links"][0]["values"][7] = "nothing.happened"
        (folder / "events.json").write_text(json.dumps(data))
        manifest = json.loads((folder / "manifest.json").read_text())
        import hashlib

        manifest["files"]["events.json"] = hashlib.sha256((folder / "events.json").read_bytes()).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif tamper == "manifest":
        manifest_text = (folder / "manifest.json").read_text()
        (folder / "manifest.json").write_text(manifest_text.replace('"events": ', '"events": 1'))
    else:
        (folder / "events.csv").write_text("sequence\n1\n")

    signature = _run(folder, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
                     "-in", "manifest.json", "-sigfile", "manifest.json.sig")
    chain = _run(folder, sys.executable, "verify_chain.py", ".")

    if tamper == "csv":
        assert signature.returncode == 0  # the manifest is intact, the file it lists is not
    else:
        assert signature.returncode != 0
    assert chain.returncode == 1 and chain.stdout.startswith("BROKEN: ")


def test_a_row_changed_in_the_database_shows_in_the_next_export(
        transactional_db, org_a, owner_a, api_for, tmp_path):
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed")
    seal_pending(org_a.pk)
    event = AuditEvent.objects.filter(organization=org_a, action="item.viewed").get()
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user="postgres",
                         dbname=settings["NAME"], autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE compliance_auditevent SET actor_label = 'someone.else@example.test' WHERE id = %s",
                     [event.pk])

    folder = _unzip(_download(api_for(owner_a), _period()), tmp_path)

    chain = _run(folder, sys.executable, "verify_chain.py", ".")
    assert chain.returncode == 1 and "contents do not match" in chain.stdout


def test_bad_periods_are_refused_naming_the_field(org_a, owner_a, api_for):
    api = api_for(owner_a)
    now = timezone.now()

    reversed_period = api.get("/api/v1/audit-events/export/",
                              {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()})
    missing = api.get("/api/v1/audit-events/export/", {"since": "yesterday"})

    assert reversed_period.status_code == 400 and "until" in reversed_period.json()["errors"]
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"since", "until"}
    assert not AuditEvent.objects.filter(organization=org_a, action="audit.exported").exists()  # nothing left


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.ANNOTATOR])
def test_only_owners_and_compliance_officers_export(role, org_a, api_for, make_member):
    member = make_member(org_a, role)

    response = api_for(member).get("/api/v1/audit-events/export/", _period())

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(organization=org_a, action="audit.exported").exists()


def test_a_compliance_officer_exports_and_reads_the_signing_key(some_events, org_a, api_for, make_member):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

    key = api_for(officer).get("/api/v1/audit-events/signing-key/").json()
    bundle = _download(api_for(officer), _period())

    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----") and key["configured"] is False
    assert bundle.read("public_key.pem").decode() == key["public_key_pem"]
    assert json.loads(bundle.read("manifest.json"))["public_key_sha256"] == key["fingerprint_sha256"]


def test_the_console_offers_the_export_and_downloads_it(some_events, org_a, owner_a, client):
    client.force_login(owner_a.user)
    page = client.get(f"/o/{org_a.slug}/audit/")
    today = timezone.localdate().isoformat()

    bad = client.get(f"/o/{org_a.slug}/audit/export/", {"export-since": today, "export-until": "2000-01-01"})
    good = client.get(f"/o/{org_a.slug}/audit/export/", {"export-since": today, "export-until": today})

    assert "Download signed export" in page.content.decode()
    assert bad.status_code == 400 and "The end date is before the start date." in bad.content.decode()
    assert good.status_code == 200 and good["Content-Type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(good.streaming_content)))
    assert json.loads(bundle.read("manifest.json"))["organization"]["slug"] == org_a.slug
