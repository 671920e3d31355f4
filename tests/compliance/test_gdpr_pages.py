"""The GDPR requests pages: the list with due dates (overdue marked), filing a request, and the detail page that
walks a request through verify, run and download, with every refusal shown in words on the page."""

import html
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.compliance import gdpr
from apps.compliance.models import AuditEvent, DataSubjectRequest
from apps.core.models import OutboxMessage
from apps.datasets.models import Item
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, ItemFactory

SUBJECT = "P-4711"
LIST = "/o/acme/compliance/gdpr/"


@pytest.fixture(autouse=True)
def region_roots(settings, tmp_path):
    settings.STORAGE_ROOTS = {"eu": tmp_path / "eu", "us": tmp_path / "us"}


@pytest.fixture
def clinic(org_a):
    """A dataset keyed by patient_id, with two items of SUBJECT and one of somebody else."""
    dataset = DatasetFactory(organization=org_a, name="Scans", subject_key="patient_id")
    for patient in (SUBJECT, SUBJECT, "P-0815"):
        ItemFactory(dataset=dataset, metadata={"patient_id": patient})
    return dataset


def signed_in(member, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(member.user)
    return client


def text(response) -> str:
    return html.unescape(response.content.decode())


def page_url(dsr, suffix="") -> str:
    return f"{LIST}{dsr.pk}/{suffix}"


def file_request(org, member, kind="erasure", **fields) -> DataSubjectRequest:
    return gdpr.gdpr_request_create(org=org, actor=member.user, kind=kind, subject_value=SUBJECT, **fields)


def test_an_officer_files_an_erasure_request_and_lands_on_its_page(clinic, org_a, officer):
    client = signed_in(officer)

    response = client.post(LIST, {"kind": "erasure", "subject_value": SUBJECT, "notes": "Letter of 3 May"},
                           follow=True)

    dsr = DataSubjectRequest.objects.get(organization=org_a)
    assert response.redirect_chain[-1][0] == page_url(dsr)
    body = text(response)
    assert f"Request {dsr.pk}: Erasure" in body
    assert "Verify the requester's identity next." in body
    assert f"{dsr.due_at:%Y-%m-%d}" in body and "Letter of 3 May" in body
    assert "Mark identity verified" in body and "Reject request" in body and "Run erasure" not in body
    assert AuditEvent.objects.filter(organization=org_a, action="gdpr.received").count() == 1


@pytest.mark.parametrize("fields,label,message", [
    ({"kind": "erasure", "subject_value": "  "}, "Subject identifier", "Give the subject's identifier"),
    ({"kind": "forget", "subject_value": SUBJECT}, "Kind of request", "Select a valid choice"),
    ({"subject_value": SUBJECT}, "Kind of request", "Choose the kind of request"),
    ({"kind": "access", "subject_value": "x" * 201}, "Subject identifier", "at most 200 characters"),
])
def test_bad_input_is_shown_beside_the_field_and_files_nothing(officer, fields, label, message):
    response = signed_in(officer).post(LIST, fields)

    assert response.status_code == 400
    body = text(response)
    group = body.split(label, 1)[1].split('class="field', 1)[0]  # the field's own group: label, errors, widget
    assert message in group
    assert not DataSubjectRequest.objects.exists()


def test_the_list_shows_status_kind_and_due_date_and_marks_overdue_open_requests(org_a, officer):
    late = file_request(org_a, officer, received_at=timezone.now() - timedelta(days=40))
    closed_late = file_request(org_a, officer, kind="access", received_at=timezone.now() - timedelta(days=40))
    gdpr.gdpr_request_reject(org=org_a, actor=officer.user, request=closed_late, reason="Not our data")
    fresh = file_request(org_a, officer, kind="access")

    response = signed_in(officer).get(LIST)

    assert response.status_code == 200
    rows = text(response).split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
    assert [f"Request {d.pk}<" in row for row, d in zip(rows, (fresh, closed_late, late), strict=True)] == [True] * 3
    assert ["Overdue" in row for row in rows] == [False, False, True]
    assert "row-overdue" in rows[2] and "Erasure" in rows[2] and "Received" in rows[2]
    assert "Rejected" in rows[1] and "Access and portability" in rows[0]


def test_the_list_filters_by_status(org_a, officer):
    waiting = file_request(org_a, officer)
    rejected = file_request(org_a, officer)
    gdpr.gdpr_request_reject(org=org_a, actor=officer.user, request=rejected, reason="Duplicate")

    body = text(signed_in(officer).get(LIST, {"status": "rejected"}))

    assert f"Request {rejected.pk}<" in body and f"Request {waiting.pk}<" not in body


def test_verify_run_and_done_with_the_certificate_and_what_was_not_erased(clinic, org_a, officer):
    dsr = file_request(org_a, officer)
    client = signed_in(officer)

    verified = client.post(page_url(dsr, "verify/"), {"verify-notes": "Passport seen"}, follow=True)
    assert "Identity verified. Run the request when you are ready." in text(verified)
    assert "Run erasure" in text(verified) and "Mark identity verified" not in text(verified)
    started = client.post(page_url(dsr, "run/"), follow=True)
    assert "running in the background" in text(started) and "Check again" in text(started)
    assert OutboxMessage.objects.filter(actor_name="run_gdpr_request").count() == 1
    gdpr.gdpr_request_execute(request=DataSubjectRequest.objects.get(pk=dsr.pk))  # the worker's part

    done = text(client.get(page_url(dsr)))

    assert '<dd id="gdpr-status">Done</dd>' in done
    assert f'href="{page_url(dsr, "download/")}">Download the erasure certificate' in done
    assert "Not erased" in done and "append-only and hash-chained" in done
    assert "Items: 2" in done and "Erased" in done and SUBJECT not in done
    assert Item.objects.filter(organization=org_a).count() == 1


def test_the_certificate_downloads_signed_and_the_download_is_audited(clinic, org_a, officer):
    dsr = file_request(org_a, officer)
    gdpr.gdpr_request_verify(org=org_a, actor=officer.user, request=dsr)
    gdpr.gdpr_request_run(org=org_a, actor=officer.user, request=dsr)
    gdpr.gdpr_request_execute(request=dsr)

    response = signed_in(officer).get(page_url(dsr, "download/"))

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    certificate = json.loads(response.content)
    assert certificate["certificate"]["counts"]["items"] == 2 and certificate["signature_ed25519"]
    assert AuditEvent.objects.filter(organization=org_a, action="gdpr.downloaded").count() == 1


def test_an_access_request_offers_its_bundle_once_done(clinic, org_a, officer):
    dsr = file_request(org_a, officer, kind="access")
    gdpr.gdpr_request_verify(org=org_a, actor=officer.user, request=dsr)
    gdpr.gdpr_request_run(org=org_a, actor=officer.user, request=dsr)
    gdpr.gdpr_request_execute(request=dsr)
    client = signed_in(officer)

    page = text(client.get(page_url(dsr)))
    bundle = client.get(page_url(dsr, "download/"))

    assert "Download the access bundle" in page and "Not erased" not in page
    assert bundle.status_code == 200
    assert json.loads(b"".join(bundle.streaming_content))["counts"]["items"] == 2


def test_running_an_unverified_request_is_refused_in_words_and_changes_nothing(clinic, org_a, officer):
    dsr = file_request(org_a, officer)

    response = signed_in(officer).post(page_url(dsr, "run/"))

    assert response.status_code == 409
    assert "This request is received: it cannot be run" in text(response)
    assert DataSubjectRequest.objects.get(pk=dsr.pk).status == "received"
    assert not OutboxMessage.objects.filter(actor_name="run_gdpr_request").exists()


def test_downloading_before_the_request_is_done_says_why_not(org_a, officer):
    dsr = file_request(org_a, officer)

    response = signed_in(officer).get(page_url(dsr, "download/"))

    assert response.status_code == 409
    assert "there is nothing to download yet" in text(response)


def test_erasure_under_legal_hold_is_refused_on_the_page(clinic, org_a, officer):
    clinic.legal_hold, clinic.legal_hold_reason = True, "Case 2026-17"
    clinic.save()
    dsr = file_request(org_a, officer)
    gdpr.gdpr_request_verify(org=org_a, actor=officer.user, request=dsr)

    response = signed_in(officer).post(page_url(dsr, "run/"))

    assert response.status_code == 409
    assert "Under legal hold" in text(response) and "Case 2026-17" in text(response)
    assert DataSubjectRequest.objects.get(pk=dsr.pk).status == "verified"


def test_a_rejection_needs_a_reason_and_shows_it_in_the_lifecycle(org_a, officer):
    dsr = file_request(org_a, officer)
    client = signed_in(officer)

    blank = client.post(page_url(dsr, "reject/"), {"reject-reason": ""})
    rejected = client.post(page_url(dsr, "reject/"), {"reject-reason": "Identity not proven"}, follow=True)

    assert blank.status_code == 400
    assert "Say why the request is rejected" in text(blank).split("Reason for rejecting", 1)[1]
    body = text(rejected)
    assert "Request rejected." in body and "Reason: Identity not proven" in body
    assert '<dd id="gdpr-status">Rejected</dd>' in body and "Reject request" not in body


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.ANNOTATOR, Role.REVIEWER])
def test_members_without_gdpr_manage_are_refused_every_page(org_a, officer, make_member, role):
    dsr = file_request(org_a, officer)
    client = signed_in(make_member(org_a, role))

    answers = [client.get(LIST).status_code, client.get(page_url(dsr)).status_code,
               client.post(LIST, {"kind": "access", "subject_value": SUBJECT}).status_code,
               client.post(page_url(dsr, "verify/")).status_code, client.get(page_url(dsr, "download/")).status_code]

    assert answers == [403] * 5
    assert DataSubjectRequest.objects.count() == 1 and DataSubjectRequest.objects.get().status == "received"
    assert b'href="/o/acme/compliance/gdpr/"' not in client.get("/o/acme/").content


def test_the_gdpr_link_shows_to_owners_and_officers(org_a, owner_a, officer):
    for member in (owner_a, officer):
        assert b'href="/o/acme/compliance/gdpr/"' in signed_in(member).get("/o/acme/").content
    assert b'href="/o/acme/compliance/gdpr/"' in signed_in(officer).get("/o/acme/audit/").content


def test_another_tenants_request_answers_404_and_is_left_alone(org_a, officer, org_b, owner_b):
    foreign = file_request(org_b, owner_b)
    client = signed_in(officer)
    foreign_url = f"{LIST}{foreign.pk}/"

    answers = [client.get(foreign_url).status_code, client.post(foreign_url + "verify/").status_code,
               client.post(foreign_url + "reject/", {"reject-reason": "no"}).status_code,
               client.post(foreign_url + "run/").status_code, client.get(foreign_url + "download/").status_code,
               client.get("/o/globex/compliance/gdpr/").status_code]

    assert answers == [404] * 6
    assert DataSubjectRequest.objects.get(pk=foreign.pk).status == "received"


def test_posts_without_the_csrf_token_are_refused(clinic, org_a, officer):
    dsr = file_request(org_a, officer)
    client = signed_in(officer, enforce_csrf_checks=True)

    created = client.post(LIST, {"kind": "access", "subject_value": SUBJECT})
    verified = client.post(page_url(dsr, "verify/"))

    assert (created.status_code, verified.status_code) == (403, 403)
    assert DataSubjectRequest.objects.count() == 1 and DataSubjectRequest.objects.get().status == "received"


def test_an_unknown_transition_is_404(org_a, officer):
    dsr = file_request(org_a, officer)

    assert signed_in(officer).post(page_url(dsr, "approve/")).status_code == 404
