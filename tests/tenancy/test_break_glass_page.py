"""The break-glass page: a member opens a short elevation with a reason (errors beside each field), sees it with its
expiry and ends it; owners and compliance officers see the organisation's history and may end anyone's."""

import html
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.compliance.models import AuditEvent
from apps.tenancy.models import BreakGlass
from apps.tenancy.roles import Role

PAGE = "/o/acme/break-glass/"
REASON = "Production incident 4711: the on-call manager is unreachable"


def signed_in(member, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(member.user)
    return client


def text(response) -> str:
    return html.unescape(response.content.decode())


def field_group(body: str, label: str) -> str:
    """The part of the page from a field's label to the next field: its errors and its widget."""
    return body.split(f">{label}", 1)[1].split('class="field', 1)[0]


def elevation(member, role=Role.ADMIN, minutes=30, **fields) -> BreakGlass:
    now = timezone.now()
    return BreakGlass.objects.create(organization=member.organization, user=member.user, role=role, reason=REASON,
                                     started_at=now, expires_at=now + timedelta(minutes=minutes), **fields)


@pytest.fixture
def annotator(org_a, make_member):
    return make_member(org_a, Role.ANNOTATOR, email="ann@acme.test")


def test_a_member_opens_an_elevation_and_sees_it_with_its_expiry(org_a, annotator):
    client = signed_in(annotator)

    response = client.post(PAGE, {"role": "admin", "minutes": "45", "reason": REASON}, follow=True)

    opened = BreakGlass.objects.get(organization=org_a, user=annotator.user)
    assert opened.role == "admin" and 44 <= (opened.expires_at - opened.started_at).total_seconds() / 60 <= 45
    body = text(response)
    assert "You are elevated to Admin until" in body and "Compliance officers have been told." in body
    assert "End elevation now" in body and "Open elevation" not in body
    assert f"{opened.expires_at:%Y-%m-%d %H:%M}" in body
    assert AuditEvent.objects.filter(organization=org_a, action="break_glass.opened").count() == 1


@pytest.mark.parametrize("fields,label,message", [
    ({"role": "admin", "minutes": "30", "reason": "too short"}, "Reason", "at least 20 characters"),
    ({"role": "admin", "minutes": "30", "reason": ""}, "Reason", "Say why you need the elevation"),
    ({"role": "admin", "minutes": "241", "reason": REASON}, "For how many minutes", "less than or equal to 240"),
    ({"role": "admin", "minutes": "0", "reason": REASON}, "For how many minutes", "greater than or equal to 1"),
    ({"role": "admin", "minutes": "soon", "reason": REASON}, "For how many minutes", "Give the number of minutes"),
    ({"role": "owner", "minutes": "30", "reason": REASON}, "Elevate to", "Select a valid choice"),
])
def test_bad_input_is_shown_beside_its_field_and_opens_nothing(annotator, fields, label, message):
    response = signed_in(annotator).post(PAGE, fields)

    assert response.status_code == 400
    assert message in field_group(text(response), label)
    assert not BreakGlass.objects.exists()


def test_a_second_elevation_while_one_is_active_is_refused_in_words(annotator):
    elevation(annotator)

    response = signed_in(annotator).post(PAGE, {"role": "manager", "minutes": "30", "reason": REASON})

    assert response.status_code == 400
    assert "You already have an active elevation; end it first." in text(response)
    assert BreakGlass.objects.count() == 1


def test_the_holder_ends_the_elevation(org_a, annotator):
    active = elevation(annotator)

    response = signed_in(annotator).post(f"{PAGE}{active.pk}/end/", follow=True)

    active.refresh_from_db()
    assert active.ended_at is not None and active.ended_by == annotator.user
    body = text(response)
    assert "Your elevation to Admin has ended." in body and "You have no active elevation." in body
    assert AuditEvent.objects.filter(organization=org_a, action="break_glass.ended").count() == 1


def test_owners_and_officers_see_everyones_history_and_may_end_it(org_a, owner_a, annotator, make_member):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)
    ended = elevation(annotator, role=Role.MANAGER, ended_at=timezone.now(), ended_by=owner_a.user)
    expired = elevation(annotator, minutes=-5)
    active = elevation(make_member(org_a, Role.REVIEWER, email="rev@acme.test"), role=Role.COMPLIANCE_OFFICER)

    for viewer in (owner_a, officer):
        body = text(signed_in(viewer).get(PAGE))
        rows = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr")[1:]
        assert "The organisation's elevations" in body
        assert [("rev@acme.test" in r, "ann@acme.test" in r) for r in rows] == [(True, False), (False, True),
                                                                                (False, True)]
        assert "Compliance officer" in rows[0] and "Active until" in rows[0] and "End" in rows[0]
        assert "Expired" in rows[1] and f"Ended {ended.ended_at:%Y-%m-%d %H:%M} by {owner_a.user.email}" in rows[2]
        assert REASON in rows[2] and "Manager" in rows[2]
    assert expired.pk < active.pk

    response = signed_in(officer).post(f"{PAGE}{active.pk}/end/", follow=True)

    assert "rev@acme.test's elevation to Compliance officer has ended." in text(response)
    active.refresh_from_db()
    assert active.ended_by == officer.user


def test_others_see_only_their_own_history_and_cannot_end_anyone_elses(org_a, annotator, make_member):
    theirs = elevation(make_member(org_a, Role.REVIEWER, email="rev@acme.test"))
    elevation(annotator, minutes=-5)
    client = signed_in(annotator)

    body = text(client.get(PAGE))
    refused = client.post(f"{PAGE}{theirs.pk}/end/")

    assert "Your past elevations" in body and "ann@acme.test" in body and "rev@acme.test" not in body
    assert refused.status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_at is None


def test_an_owner_is_told_there_is_nothing_to_elevate_to(owner_a):
    body = text(signed_in(owner_a).get(PAGE))

    assert "Your role already allows everything an elevation could give." in body


def test_a_manager_may_only_elevate_to_roles_that_add_something(org_a, make_member):
    body = text(signed_in(make_member(org_a, Role.MANAGER)).get(PAGE))

    options = field_group(body, "Elevate to")
    assert 'value="admin"' in options and 'value="compliance_officer"' in options and 'value="manager"' not in options


def test_another_tenants_elevation_answers_404_and_stays_active(org_a, owner_a, org_b, owner_b, make_member):
    foreign = elevation(make_member(org_b, Role.ANNOTATOR))
    client = signed_in(owner_a)

    answers = [client.post(f"{PAGE}{foreign.pk}/end/").status_code, client.get("/o/globex/break-glass/").status_code,
               client.post(f"/o/globex/break-glass/{foreign.pk}/end/").status_code]

    assert answers == [404, 404, 404]
    foreign.refresh_from_db()
    assert foreign.ended_at is None
    assert str(foreign.reason) not in text(client.get(PAGE))


def test_posts_without_the_csrf_token_are_refused(annotator):
    active = elevation(annotator)
    client = signed_in(annotator, enforce_csrf_checks=True)

    opened = client.post(PAGE, {"role": "manager", "minutes": "30", "reason": REASON})
    ended = client.post(f"{PAGE}{active.pk}/end/")

    assert (opened.status_code, ended.status_code) == (403, 403)
    active.refresh_from_db()
    assert active.ended_at is None and BreakGlass.objects.count() == 1


def test_the_page_is_linked_from_home_and_from_the_audit_log(owner_a, annotator):
    assert b'href="/o/acme/break-glass/"' in signed_in(annotator).get("/o/acme/").content
    assert b'href="/o/acme/break-glass/"' in signed_in(owner_a).get("/o/acme/audit/").content


def test_an_elevation_opens_the_pages_of_its_role_until_it_ends(annotator):
    active = elevation(annotator, role=Role.COMPLIANCE_OFFICER)
    client = signed_in(annotator)

    during = client.get("/o/acme/compliance/gdpr/").status_code
    client.post(f"{PAGE}{active.pk}/end/")
    after = client.get("/o/acme/compliance/gdpr/").status_code

    assert (during, after) == (200, 403)


def test_the_navigation_follows_an_elevation_while_it_lasts(org_a, make_member):
    manager = make_member(org_a, Role.MANAGER)
    client = signed_in(manager)
    assert "GDPR requests" not in text(client.get(f"/o/{org_a.slug}/"))

    granted = elevation(manager, role=Role.COMPLIANCE_OFFICER)
    assert "GDPR requests" in text(client.get(f"/o/{org_a.slug}/"))

    BreakGlass.objects.filter(pk=granted.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "GDPR requests" not in text(client.get(f"/o/{org_a.slug}/"))
