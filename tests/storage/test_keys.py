"""Organisation keys and master keys: rotation re-wraps data keys and never rewrites an object."""

import base64
import io
import os

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from apps.compliance.models import AuditEvent
from apps.storage.errors import KeyUnavailable
from apps.storage.models import Blob, OrgKey
from apps.storage.services import blob_put, blob_read_bytes, org_key_rotate
from apps.tenancy.roles import Role

from .content import marked_content

MiB = 1024 * 1024


def fingerprint(path):
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_ino


def test_rotation_rewraps_every_data_key_and_leaves_the_objects_alone(put, org_a, stored_path, monkeypatch):
    monkeypatch.setattr("apps.storage.services.REWRAP_BATCH", 2)  # several batches
    contents = [marked_content(n) for n in (0, 10, MiB + 1, 3 * MiB, 77, 5000)]
    blobs = [put(content) for content in contents]
    before_rows = {b.pk: bytes(b.wrapped_data_key) for b in blobs}
    before_files = {b.pk: fingerprint(stored_path(b)) for b in blobs}

    rotation = org_key_rotate(org=org_a, actor=None)

    after = {b.pk: b for b in Blob.objects.filter(pk__in=before_rows)}
    assert rotation == (2, 1, len(blobs))
    assert {b.org_key_version for b in after.values()} == {2}
    assert all(bytes(after[pk].wrapped_data_key) != wrapped for pk, wrapped in before_rows.items())
    assert {b.pk: fingerprint(stored_path(b)) for b in blobs} == before_files
    assert [blob_read_bytes(b) for b in blobs] == contents


def test_rotation_retires_the_older_versions_and_new_blobs_use_the_new_one(put, org_a):
    put(b"before")

    org_key_rotate(org=org_a, actor=None)
    blob = put(b"after")

    versions = list(OrgKey.objects.for_org(org_a).order_by("version").values_list("version", "retired_at"))
    assert [(v, retired is not None) for v, retired in versions] == [(1, True), (2, False)]
    assert blob.org_key_version == 2


def test_rotation_leaves_other_organisations_alone(put, org_a, org_b):
    blob_b = put(b"globex", org=org_b)

    org_key_rotate(org=org_a, actor=None)

    assert Blob.objects.get(pk=blob_b.pk).org_key_version == 1
    assert blob_read_bytes(blob_b) == b"globex"


def test_rotation_is_audited(put, org_a):
    put(b"x")

    org_key_rotate(org=org_a, actor=None)

    event = AuditEvent.objects.get(organization_id=org_a.pk, action="storage.org_key_rotated")
    assert (event.before, event.after["version"], event.metadata) == ({"version": 1}, 2, {"blobs_rewrapped": 1})


def test_members_without_org_manage_cannot_rotate(org_a, make_member):
    manager = make_member(org_a, Role.MANAGER).user

    with pytest.raises(PermissionDenied):
        org_key_rotate(org=org_a, actor=manager)

    assert not OrgKey.objects.exists()


def test_an_owner_can_rotate(put, owner_a, org_a):
    put(b"x")

    rotation = org_key_rotate(org=org_a, actor=owner_a.user)

    assert rotation.version == 2
    assert AuditEvent.objects.get(action="storage.org_key_rotated").actor_user_id == owner_a.user_id


def test_rotate_org_key_command(put, org_a):
    blob = put(b"content")
    out = io.StringIO()

    call_command("rotate_org_key", "--org", "acme", stdout=out)

    assert out.getvalue().strip() == "acme: key v2 is current (was v1); 1 blob(s) re-wrapped."
    assert blob_read_bytes(blob) == b"content"


def test_rotate_org_key_command_names_an_unknown_organisation(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No organisation with slug 'nope'"):
        call_command("rotate_org_key", "--org", "nope")


def new_master(key_id: str) -> tuple[str, bytes]:
    return key_id, os.urandom(32)


def test_a_new_master_key_takes_over_through_rotation(put, org_a, settings):
    blob = put(b"survives a master key change")
    old = settings.STORAGE_MASTER_KEYS[0]
    settings.STORAGE_MASTER_KEYS = [new_master("m2"), old]

    org_key_rotate(org=org_a, actor=None)
    settings.STORAGE_MASTER_KEYS = settings.STORAGE_MASTER_KEYS[:1]  # the old master key is withdrawn

    assert OrgKey.objects.get(organization=org_a, retired_at__isnull=True).master_key_id == "m2"
    assert blob_read_bytes(blob) == b"survives a master key change"


def test_a_withdrawn_master_key_makes_its_organisation_keys_unavailable(put, settings):
    blob = put(b"x")
    settings.STORAGE_MASTER_KEYS = [new_master("m2")]

    with pytest.raises(KeyUnavailable, match="not configured"):
        blob_read_bytes(blob)


def test_an_organisation_key_copied_to_another_organisation_does_not_unwrap(put, org_a, org_b):
    put(b"a", org=org_a)
    blob_b = put(b"b", org=org_b)
    key_a = OrgKey.objects.get(organization=org_a)
    OrgKey.objects.filter(organization=org_b).update(wrapped_key=key_a.wrapped_key)

    with pytest.raises(KeyUnavailable, match="does not unwrap"):
        blob_read_bytes(blob_b)


def test_a_destroyed_organisation_key_erases_access(put, org_a):
    from django.utils import timezone

    blob = put(b"crypto-shredded")
    OrgKey.objects.filter(organization=org_a).update(destroyed_at=timezone.now())

    with pytest.raises(KeyUnavailable, match="destroyed"):
        blob_read_bytes(blob)
    with pytest.raises(KeyUnavailable):
        blob_put(org=org_a, stream=io.BytesIO(b"no key to wrap with"))


def test_master_keys_are_parsed_from_the_environment_format():
    from dlsaas.settings import _master_keys

    k1, k2 = os.urandom(32), os.urandom(32)
    value = f"2026-b:{base64.b64encode(k2).decode()}, 2025-a:{base64.b64encode(k1).decode()}"

    assert _master_keys(value) == [("2026-b", k2), ("2025-a", k1)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nokey", "keyid:base64"),
        (f"bad id:{base64.b64encode(bytes(32)).decode()}", "keyid:base64"),
        ("k1:not*base64", "not valid base64"),
        (f"k1:{base64.b64encode(bytes(16)).decode()}", "32 bytes"),
        (f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}", "appears twice"),
    ],
)
def test_malformed_master_keys_are_refused(value, message):
    from django.core.exceptions import ImproperlyConfigured

    from dlsaas.settings import _master_keys

    with pytest.raises(ImproperlyConfigured, match=message):
        _master_keys(value)


@pytest.mark.django_db(transaction=True)
def test_a_blob_stored_while_a_rotation_starts_is_rewrapped_too(region_roots):
    import threading

    from django.db import connections, transaction

    from apps.tenancy.context import system_context
    from tests.factories import OrganizationFactory

    org = OrganizationFactory(region="eu")
    blob_put(org=org, stream=io.BytesIO(b"before"))
    results = []

    def rotate():
        try:
            with system_context():
                results.append(org_key_rotate(org=org, actor=None))
        finally:
            connections.close_all()

    rotation = threading.Thread(target=rotate)
    with transaction.atomic():
        during = blob_put(org=org, stream=io.BytesIO(b"during"))  # wrapped with v1, not yet committed
        rotation.start()
        rotation.join(timeout=1)
        waited = rotation.is_alive()  # the rotation waits for this transaction's new blob
    rotation.join(timeout=30)

    assert waited
    assert results[0].blobs_rewrapped == 2
    assert Blob.objects.get(pk=during.pk).org_key_version == 2
    assert blob_read_bytes(during) == b"during"
