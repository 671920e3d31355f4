"""Residency: an organisation's bytes are written and read only in its region, and every attempt
otherwise is refused and audited, even when the caller's transaction rolls back."""

import io

import pytest
from django.db import transaction

from apps.compliance.models import AuditEvent
from apps.storage.errors import ResidencyError
from apps.storage.models import Blob
from apps.storage.services import blob_open, blob_put
from apps.tenancy.context import system_context, tenant_context
from tests.factories import OrganizationFactory


def violations(org):
    with system_context():
        return list(AuditEvent.objects.filter(organization_id=org.pk, action="storage.residency_violation"))


def test_writing_to_another_region_is_refused_and_audited(org_a, region_roots):
    with pytest.raises(ResidencyError, match="stays in region 'eu'"):
        blob_put(org=org_a, stream=io.BytesIO(b"eu data"), region="us")

    [event] = violations(org_a)
    assert event.metadata == {
        "operation": "write",
        "attempted_region": "us",
        "org_region": "eu",
        "reason": "no recorded legal basis for a transfer to that region",
    }
    assert not region_roots["us"].exists() and not Blob.objects.exists()


def test_reading_a_blob_stored_in_another_region_is_refused_and_audited(put, org_a):
    blob = put(b"eu data")
    Blob.objects.filter(pk=blob.pk).update(region="us")

    with pytest.raises(ResidencyError):
        blob_open(blob)

    [event] = violations(org_a)
    assert (event.target_type, event.target_id, event.metadata["operation"]) == ("storage.blob", str(blob.pk), "read")


def test_a_blob_whose_key_points_into_another_organisations_area_is_refused(put, org_a, org_b):
    blob_a = put(b"acme data", org=org_a)
    Blob.objects.filter(pk=blob_a.pk).update(key=blob_a.key.replace(f"org/{org_a.pk}/", f"org/{org_b.pk}/"))

    with pytest.raises(ResidencyError, match="outside the organisation"):
        blob_open(blob_a)

    assert len(violations(org_a)) == 1


def test_an_organisation_moved_to_another_region_cannot_read_its_old_bytes_there(put, org_a):
    blob = put(b"written in eu")
    org_a.region = "us"
    org_a.save(update_fields=["region"])

    with pytest.raises(ResidencyError):
        blob_open(blob)


def test_a_us_organisation_writes_to_the_us_root(db, region_roots):
    org_us = OrganizationFactory(region="us")

    blob = blob_put(org=org_us, stream=io.BytesIO(b"us data"))

    assert (region_roots["us"] / blob.key).is_file()
    assert not region_roots["eu"].exists()


@pytest.mark.django_db(transaction=True)
def test_the_audit_event_survives_the_callers_rollback():
    org = OrganizationFactory(region="eu")

    with tenant_context(org), pytest.raises(ResidencyError), transaction.atomic():
        blob_put(org=org, stream=io.BytesIO(b"data"), region="us")

    assert [e.metadata["attempted_region"] for e in violations(org)] == ["us"]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_holding_the_chain_lock_gets_the_event_without_a_deadlock():
    from apps.compliance.services import audit_record

    org = OrganizationFactory(region="eu")
    recorded = []

    with pytest.raises(ResidencyError), transaction.atomic():
        audit_record(org=org, actor=None, action="test.before")  # holds the chain's lock until the end
        try:
            blob_put(org=org, stream=io.BytesIO(b"data"), region="us")
        finally:
            recorded.extend(violations(org))

    # Another connection would wait on this transaction's lock, so the event is written inside it
    # (and shares its fate); the log says so.
    assert [e.metadata["attempted_region"] for e in recorded] == ["us"]
