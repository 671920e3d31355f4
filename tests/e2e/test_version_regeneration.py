"""After a real GDPR erasure withdrew a dataset version, its owner regenerates it from the versions page and
downloads the new version's files, which hold nothing of the erased person, in headless Chromium."""

import io
import json
import zipfile

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from apps.annotations.services import annotations_change
from apps.compliance import gdpr
from apps.compliance.models import DataSubjectRequest
from apps.datasets import version_services
from apps.datasets.models import DatasetVersion
from apps.datasets.tasks import build_dataset_version
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.e2e.pages import sign_in
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.e2e

SUBJECT = "P-4711"
MARKER = "zq-regen-e2e-marker-81d0"


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def test_an_owner_regenerates_a_version_withdrawn_by_an_erasure_and_its_files_hold_nothing_of_the_subject(
        live_server, new_page, org_a, owner_a, make_member, api_for):
    dataset = DatasetFactory(organization=org_a, name="Scans", subject_key="patient_id")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    for patient, name, note in ((SUBJECT, f"scan-{MARKER}.jpg", f"seen by {MARKER}"),
                                ("P-0815", "kept.jpg", "nothing")):
        item = ItemFactory(dataset=dataset, name=name, metadata={"patient_id": patient, "note": note})
        annotations_change(org=org_a, actor=owner_a.user, item=item, create=[
            {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
             "attributes": {"colour": "red", "plate": note}}])
    version = version_services.dataset_version_create(org=org_a, actor=owner_a.user, dataset=dataset,
                                                      message="Training cut")
    build_dataset_version(org_a.pk, version.pk)
    officer = api_for(make_member(org_a, Role.COMPLIANCE_OFFICER))
    request_id = officer.post("/api/v1/gdpr-requests/", {"kind": "erasure", "subject_value": SUBJECT},
                              format="json").json()["id"]
    officer.post(f"/api/v1/gdpr-requests/{request_id}/verify/", {}, format="json")
    officer.post(f"/api/v1/gdpr-requests/{request_id}/run/", {}, format="json")
    gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=request_id))
    page = new_page(live_server.url)
    sign_in(page, owner_a.user.email)

    # The versions page shows version 1 withdrawn, with a button to regenerate it.
    page.goto(f"/o/acme/datasets/{dataset.pk}/versions/")
    first = page.locator(f"#version-{version.pk}")
    expect(first).to_contain_text("Withdrawn")
    page.get_by_role("button", name="Regenerate version 1 without the erased data").click()
    expect(page.locator("#messages")).to_contain_text("Version 2 is being built from version 1")

    # The worker builds it (it does not run under live_server); the page shows it ready, and what it replaces.
    regenerated = DatasetVersion.objects.get(dataset=dataset, number=2)
    build_dataset_version(org_a.pk, regenerated.pk)
    page.reload()
    second = page.locator(f"#version-{regenerated.pk}")
    expect(second).to_contain_text("Ready")
    expect(second).to_contain_text("Regenerated from version 1")
    expect(second).to_contain_text("as version 1 captured them")
    expect(first.get_by_role("link", name="Replaced by version 2")).to_be_visible()
    expect(page.get_by_role("button", name="Regenerate version 1 without the erased data")).to_have_count(0)

    # Its files hold the other patient's item and box, and nothing of the erased one.
    with page.expect_download() as download:
        second.get_by_role("link", name="Download (zip)").click()
    with open(download.value.path(), "rb") as saved:
        archive = zipfile.ZipFile(io.BytesIO(saved.read()))
    rows = {name: pq.read_table(io.BytesIO(archive.read(name))).to_pylist()
            for name in archive.namelist() if name.endswith(".parquet")}
    assert [row["name"] for row in rows["items.parquet"]] == ["kept.jpg"]
    assert len(rows["annotations.parquet"]) == 1
    assert not any(MARKER in json.dumps(table, default=str) for table in rows.values())
    assert MARKER not in archive.read("version.json").decode()
    assert page.errors == []
