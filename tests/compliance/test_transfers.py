"""Cross-region transfers: copies outside the organisation's region only under a recorded legal basis, every such
write audited with the basis, refused again once the basis is revoked; recorded and revoked from the API and the
residency page."""

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.compliance.models import AuditEvent, TransferBasis
from apps.compliance.transfers import transfer_basis_record
from apps.storage.errors import ResidencyError
from apps.storage.services import blob_open, blob_put
from apps.tenancy.context import system_context
from apps.tenancy.roles import Role


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    roots = {"eu": tmp_path / "eu", "us": tmp_path / "us"}
    settings.STORAGE_ROOTS = roots
    return roots


def basis_body(**changes) -> dict:
    return {"destination_region": "us", "basis": "scc", "reference": "SCC 2021/914 module 2, signed 2026-03-01",
            "purpose": "Training cluster of the US office reads the COCO exports",
            "valid_until": (timezone.now() + timedelta(days=180)).isoformat(), **changes}


def events(org, action):
    with system_context():
        return list(AuditEvent.objects.filter(organization_id=org.pk, action=action).order_by("pk"))


@pytest.fixture
def us_basis(org_a, officer):
    return transfer_basis_record(org=org_a, actor=officer.user, destination_region="us", basis="scc",
                                 reference="SCC 2021/914", purpose="US training cluster reads exports",
                                 valid_until=timezone.now() + timedelta(days=30))


def test_an_officer_records_a_basis_through_the_api_and_it_is_audited(org_a, officer, api_for):
    response = api_for(officer).post("/api/v1/transfer-bases/", basis_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["destination_region"], body["basis"], body["active"], body["recorded_by"]) == (
        "us", "scc", True, officer.user.email)
    [event] = events(org_a, "residency.transfer_basis_recorded")
    assert event.actor_user_id == officer.user.pk and event.after["reference"].startswith("SCC 2021/914")
    assert [b["id"] for b in api_for(officer).get("/api/v1/transfer-bases/").json()["results"]] == [body["id"]]


@pytest.mark.parametrize("changes,field", [
    ({"destination_region": "mars"}, "destination_region"),
    ({"destination_region": "eu"}, "destination_region"),  # the organisation's own region
    ({"basis": "because"}, "basis"),
    ({"reference": "  "}, "reference"),
    ({"purpose": "why"}, "purpose"),
    ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until"),
    ({"valid_until": "not a date"}, "valid_until"),
])
def test_a_bad_basis_is_refused_naming_the_field(org_a, officer, api_for, changes, field):
    response = api_for(officer).post("/api/v1/transfer-bases/", basis_body(**changes), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not TransferBasis.objects.exists()


def test_a_basis_longer_than_three_years_is_refused(org_a, officer, api_for):
    far = (timezone.now() + timedelta(days=4 * 365)).isoformat()

    response = api_for(officer).post("/api/v1/transfer-bases/", basis_body(valid_until=far), format="json")

    assert response.status_code == 400 and "at most" in response.json()["errors"]["valid_until"][0]


def test_without_a_basis_a_write_abroad_is_refused_and_audited(org_a, region_roots):
    with pytest.raises(ResidencyError):
        blob_put(org=org_a, stream=io.BytesIO(b"eu data"), region="us")

    [violation] = events(org_a, "storage.residency_violation")
    assert violation.metadata["reason"] == "no recorded legal basis for a transfer to that region"
    assert not region_roots["us"].exists()


def test_under_a_basis_a_write_abroad_lands_there_audited_with_the_basis(org_a, us_basis, region_roots):
    blob = blob_put(org=org_a, stream=io.BytesIO(b"copy for the US cluster"), region="us")

    assert blob.region == "us" and (region_roots["us"] / blob.key).is_file()
    with blob_open(blob) as stream:
        assert stream.read() == b"copy for the US cluster"
    [transfer] = events(org_a, "residency.transfer")
    assert transfer.target_id == str(us_basis.pk)
    assert transfer.metadata | {"object": ""} == {"operation": "write", "destination_region": "us",
                                                  "org_region": "eu", "basis": "scc", "reference": "SCC 2021/914",
                                                  "object": ""}
    assert not events(org_a, "storage.residency_violation")


def test_once_revoked_the_region_is_closed_again_and_its_bytes_show_as_violations(org_a, officer, us_basis,
                                                                                  api_for):
    blob = blob_put(org=org_a, stream=io.BytesIO(b"abroad"), region="us")
    client = api_for(officer)
    assert client.get("/api/v1/residency/").json()["violation_count"] == 0

    response = client.post(f"/api/v1/transfer-bases/{us_basis.pk}/revoke/", {"reason": "Contract ended"},
                           format="json")

    assert response.status_code == 200 and response.json()["active"] is False
    with pytest.raises(ResidencyError):
        blob_open(blob)
    with pytest.raises(ResidencyError):
        blob_put(org=org_a, stream=io.BytesIO(b"more"), region="us")
    report = client.get("/api/v1/residency/").json()
    assert report["violation_count"] == 1 and [v["blob_id"] for v in report["violations"]] == [blob.pk]
    assert [(t["basis_id"], t["active"], t["objects"]) for t in report["transfers"]] == [(us_basis.pk, False, 1)]
    [revoked] = events(org_a, "residency.transfer_basis_revoked")
    assert revoked.metadata["reason"] == "Contract ended"
    again = client.post(f"/api/v1/transfer-bases/{us_basis.pk}/revoke/", {"reason": "twice"}, format="json")
    assert again.status_code == 409


def test_an_expired_basis_no_longer_opens_the_region(org_a, us_basis):
    TransferBasis.objects.filter(pk=us_basis.pk).update(valid_from=timezone.now() - timedelta(days=60),
                                                        valid_until=timezone.now() - timedelta(days=1))

    with pytest.raises(ResidencyError):
        blob_put(org=org_a, stream=io.BytesIO(b"late"), region="us")


def test_another_organisations_basis_opens_nothing_here(org_a, org_b, owner_b):
    transfer_basis_record(org=org_b, actor=owner_b.user, destination_region="us", basis="bcr",
                          reference="Globex BCR", purpose="Globex's own US analytics",
                          valid_until=timezone.now() + timedelta(days=30))

    with pytest.raises(ResidencyError):
        blob_put(org=org_a, stream=io.BytesIO(b"acme"), region="us")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.ANNOTATOR])
def test_only_owners_and_officers_record_a_basis(org_a, make_member, api_for, role):
    response = api_for(make_member(org_a, role)).post("/api/v1/transfer-bases/", basis_body(), format="json")

    assert response.status_code in (403, 404)
    assert not TransferBasis.objects.exists()


def test_the_residency_page_records_lists_and_revokes_a_basis(org_a, officer):
    client = Client()
    client.force_login(officer.user)
    page = f"/o/{org_a.slug}/compliance/residency/"
    day = (timezone.now() + timedelta(days=90)).date().isoformat()

    bad = client.post(f"{page}transfers/", {"destination_region": "us", "basis": "scc", "reference": "SCC",
                                            "purpose": "short", "valid_until": day})
    assert bad.status_code == 400 and "Say why the data goes there" in bad.content.decode()

    done = client.post(f"{page}transfers/", {"destination_region": "us", "basis": "scc",
                                             "reference": "SCC 2021/914", "valid_until": day,
                                             "purpose": "US training cluster reads exports"}, follow=True)
    text = done.content.decode()
    assert "Copies may be stored in region us" in text and "Standard contractual clauses" in text
    basis = TransferBasis.objects.get()
    assert basis.valid_until.date().isoformat() > day  # the chosen day is covered to its end

    revoked = client.post(f"{page}transfers/{basis.pk}/revoke/", {"reason": "Contract ended"}, follow=True)
    assert "Revoked" in revoked.content.decode() and "Revoked " + timezone.now().strftime("%Y-%m-%d") in \
        revoked.content.decode()


def test_an_annotator_sees_no_transfer_form_and_cannot_post_one(org_a, make_member):
    client = Client()
    client.force_login(make_member(org_a, Role.ANNOTATOR).user)

    response = client.post(f"/o/{org_a.slug}/compliance/residency/transfers/", {"destination_region": "us"})

    assert response.status_code in (403, 404)
    assert not TransferBasis.objects.exists()


def test_another_tenants_basis_cannot_be_revoked_from_here(org_a, officer, org_b, owner_b, api_for):
    foreign = transfer_basis_record(org=org_b, actor=owner_b.user, destination_region="us", basis="bcr",
                                    reference="Globex BCR", purpose="Globex's own US analytics",
                                    valid_until=timezone.now() + timedelta(days=30))

    response = api_for(officer).post(f"/api/v1/transfer-bases/{foreign.pk}/revoke/", {"reason": "x"},
                                     format="json")

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


# --- An export stored abroad: the one path that writes outside the region today ----------------------------


@pytest.fixture
def street_export(org_a, owner_a):
    from tests.datasets.factories import DatasetFactory, ItemFactory
    from tests.recipes.factories import published_recipe

    dataset = DatasetFactory(organization=org_a, name="Street")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    ItemFactory(dataset=dataset, name="a.jpg")
    return dataset


def test_an_export_abroad_without_a_basis_is_refused_naming_the_region(org_a, owner_a, street_export, api_for):
    response = api_for(owner_a).post(f"/api/v1/datasets/{street_export.pk}/exports/",
                                     {"format": "coco", "region": "us"}, format="json")

    assert response.status_code == 400
    assert "No current legal basis" in response.json()["errors"]["region"][0]


def test_an_export_abroad_under_a_basis_is_stored_there_audited_and_downloads(org_a, owner_a, us_basis,
                                                                               street_export, api_for, region_roots):
    from apps.annotations import exports
    from apps.annotations.models import ExportJob

    client = api_for(owner_a)
    created = client.post(f"/api/v1/datasets/{street_export.pk}/exports/", {"format": "coco", "region": "us"},
                          format="json")
    assert created.status_code == 202, created.content
    exports.export_run(job=ExportJob.objects.get(pk=created.json()["id"]))

    job = ExportJob.objects.select_related("result").get(pk=created.json()["id"])
    assert (job.status, job.region, job.result.region) == ("done", "us", "us")
    assert (region_roots["us"] / job.result.key).is_file()
    [transfer] = events(org_a, "residency.transfer")
    assert transfer.target_id == str(us_basis.pk) and transfer.metadata["destination_region"] == "us"
    download = client.get(f"/api/v1/exports/{job.pk}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content)[:2] == b"PK"
    assert client.get(f"/api/v1/exports/{job.pk}/").json()["region"] == "us"
