"""A compliance officer files an erasure request, verifies the requester, runs it and downloads the certificate, in
headless Chromium."""

import json

import pytest
from playwright.sync_api import expect

from apps.compliance import gdpr
from apps.compliance.models import DataSubjectRequest
from apps.datasets.models import Item
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

SUBJECT = "P-4711"


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


def test_an_officer_files_verifies_and_runs_an_erasure_and_gets_its_certificate(live_server, new_page, org_a,
                                                                                  make_member):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER, email="cora.compliance@example.test")
    dataset = DatasetFactory(organization=org_a, name="Scans", subject_key="patient_id")
    for patient in (SUBJECT, SUBJECT, "P-0815"):
        ItemFactory(dataset=dataset, metadata={"patient_id": patient})
    page = new_page(live_server.url)
    sign_in(page, officer.user.email)

    # She files the request from the GDPR requests page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="GDPR requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("GDPR requests")
    page.get_by_label("Erasure (art. 17)").check()
    page.get_by_label("Subject identifier").fill(SUBJECT)
    page.get_by_label("Notes").fill("Letter received by post")
    page.get_by_role("button", name="File request").click()
    dsr = DataSubjectRequest.objects.get(organization=org_a)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {dsr.pk}: Erasure")
    expect(page.locator("#gdpr-status")).to_have_text("Received")

    # She verifies the requester's identity, then runs the erasure.
    page.get_by_label("How the identity was checked").fill("Passport checked at the front desk")
    page.get_by_role("button", name="Mark identity verified").click()
    expect(page.locator("#gdpr-status")).to_have_text("Identity verified")
    page.get_by_role("button", name="Run erasure").click()
    expect(page.locator("#gdpr-status")).to_have_text("In progress")

    # The worker does its part (it does not run under live_server), and the page shows the request done.
    gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=dsr.pk))
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("#gdpr-status")).to_have_text("Done")
    expect(page.locator("ol.lifecycle li[aria-current=step]")).to_contain_text("Done")
    expect(page.locator("#not-erased li").first).to_be_visible()
    certificate_link = page.get_by_role("link", name="Download the erasure certificate")
    expect(certificate_link).to_be_visible()
    with page.expect_download() as download:
        certificate_link.click()
    with open(download.value.path()) as saved:
        certificate = json.load(saved)
    assert certificate["certificate"]["counts"]["items"] == 2 and certificate["signature_ed25519"]
    assert list(Item.objects.filter(dataset=dataset).values_list("metadata__patient_id", flat=True)) == ["P-0815"]

    # The list shows it done, not overdue.
    page.get_by_role("link", name="← GDPR requests").click()
    row = page.locator("#gdpr-requests tbody tr").first
    expect(row).to_contain_text("Done")
    expect(row).not_to_contain_text("Overdue")
    assert page.errors == []
