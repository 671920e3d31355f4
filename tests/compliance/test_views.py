"""The audit log page: who may read it, filters, pages, and the verify button."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.compliance.models import AuditEvent
from apps.compliance.services import audit_record
from apps.core.models import OutboxMessage
from apps.tenancy.roles import Role
from tests.compliance.pages import signed_in


def rows(response) -> list[str]:
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<code>([^<]+)</code>", body)


def test_owner_reads_the_audit_log_newest_first(org_a, owner_a):
    audit_record(org=org_a, actor=owner_a.user, action="dataset.created", target_label="first")
    audit_record(org=org_a, actor=owner_a.user, action="dataset.deleted", target_label="second")

    response = signed_in(owner_a.user).get("/o/acme/audit/", {"action": "dataset."})

    assert response.status_code == 200
    assert rows(response) == ["dataset.deleted", "dataset.created"]
    assert b"Verify chain now" in response.content


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MANAGER, Role.ADMIN])
def test_roles_without_audit_view_get_403_in_words(org_a, make_member, role):
    member = make_member(org_a, role)

    response = signed_in(member.user).get("/o/acme/audit/")

    assert response.status_code == 403
    assert b"Not allowed" in response.content and b"audit.view" in response.content
    assert AuditEvent.objects.filter(organization=org_a, action="access.denied", actor_user=member.user).exists()


def test_a_compliance_officer_reads_the_log(org_a, make_member):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

    assert signed_in(officer.user).get("/o/acme/audit/").status_code == 200


def test_audit_link_shows_only_with_audit_view(org_a, owner_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)

    assert b'href="/o/acme/audit/"' in signed_in(owner_a.user).get("/o/acme/").content
    assert b'href="/o/acme/audit/"' not in signed_in(annotator.user).get("/o/acme/").content


def test_another_organisations_audit_log_is_404(org_a, org_b, owner_a, owner_b):
    audit_record(org=org_b, actor=owner_b.user, action="secret.globex")

    response = signed_in(owner_a.user).get("/o/globex/audit/")

    assert response.status_code == 404
    assert b"secret.globex" not in response.content


def test_filters_by_actor_action_and_dates(org_a, owner_a, make_member):
    other = make_member(org_a, Role.ADMIN)
    audit_record(org=org_a, actor=owner_a.user, action="member.removed")
    audit_record(org=org_a, actor=other.user, action="member.removed")
    audit_record(org=org_a, actor=owner_a.user, action="token.created")
    today = timezone.now().date()
    client = signed_in(owner_a.user)

    by_actor = client.get("/o/acme/audit/", {"actor_email": owner_a.user.email, "action": "member."})
    tomorrow = client.get("/o/acme/audit/", {"since": (today + timedelta(days=1)).isoformat()})
    today_only = client.get("/o/acme/audit/", {"since": today.isoformat(), "until": today.isoformat(),
                                               "action": "token.created"})

    assert rows(by_actor) == ["member.removed"]
    assert b"No events match these filters." in tomorrow.content
    assert rows(today_only) == ["token.created"]


def test_an_inverted_date_range_is_refused_in_words(org_a, owner_a):
    response = signed_in(owner_a.user).get("/o/acme/audit/", {"since": "2026-02-01", "until": "2026-01-01"})

    assert response.status_code == 400
    assert b"The end date is before the start date." in response.content


def test_the_log_pages_by_fifty_with_cursors(org_a, owner_a):
    for n in range(120):
        audit_record(org=org_a, actor=owner_a.user, action=f"test.event{n:03d}")
    client = signed_in(owner_a.user)

    first = client.get("/o/acme/audit/", {"action": "test."})
    older_link = re.search(r'href="\?([^"]*before=\d+[^"]*)"', first.content.decode()).group(1).replace("&amp;", "&")
    second = client.get(f"/o/acme/audit/?{older_link}")
    newer_link = re.search(r'href="\?([^"]*after=\d+[^"]*)"', second.content.decode()).group(1).replace("&amp;", "&")
    back = client.get(f"/o/acme/audit/?{newer_link}")

    assert len(rows(first)) == 50 and rows(first)[0] == "test.event119"
    assert rows(second)[0] == "test.event069" and len(rows(second)) == 50
    assert "action=test." in older_link
    assert rows(back) == rows(first)


def test_verify_chain_now_enqueues_a_check_and_records_the_request(org_a, owner_a):
    response = signed_in(owner_a.user).post("/o/acme/audit/verify/", follow=True)

    assert b"Verification started." in response.content
    assert AuditEvent.objects.filter(organization=org_a, action="audit.verification_requested").exists()
    assert OutboxMessage.objects.filter(organization_id=org_a.pk, actor_name="verify_audit_chain").exists()


def test_verify_chain_is_forbidden_without_audit_view(org_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(annotator.user).post("/o/acme/audit/verify/")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(organization=org_a, action="audit.verification_requested").exists()
