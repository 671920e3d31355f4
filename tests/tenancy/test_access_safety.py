"""Issue 8, access safety: revocation on removal, MFA enforcement per organisation, break-glass elevations."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.compliance.models import AuditEvent
from apps.live.selectors import subscription_allowed
from apps.tenancy.models import BreakGlass
from apps.tenancy.roles import Role
from apps.tenancy.services import break_glass_open, membership_remove
from tests.accounts.test_views import confirmed_device

pytestmark = pytest.mark.django_db

REASON = "Production incident 42: relabel the broken batch now"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def require_mfa(org):
    org.mfa_required = True
    org.save(update_fields=["mfa_required"])


# Revocation on removal


def test_a_removed_members_open_session_no_longer_opens_the_organisation(org_a, owner_a, make_member):
    member = make_member(org_a, Role.MANAGER)
    client = signed_in(member.user)
    assert client.get("/o/acme/members/").status_code == 200

    membership_remove(org=org_a, actor=owner_a.user, membership=member)

    assert client.get("/o/acme/members/").status_code == 404
    assert client.get("/api/v1/members/").status_code == 403


def test_a_removed_member_can_no_longer_subscribe(org_a, owner_a, make_member):
    member = make_member(org_a, Role.MANAGER)

    membership_remove(org=org_a, actor=owner_a.user, membership=member)

    assert subscription_allowed(user=member.user, org_slug="acme", topic="members") is None


# MFA enforcement per organisation


def test_a_member_without_mfa_is_sent_to_set_it_up_from_pages(org_a, owner_a):
    require_mfa(org_a)

    response = signed_in(owner_a.user).get("/o/acme/members/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/mfa/?next=/o/acme/members/"


def test_tokens_made_before_enforcement_stop_until_mfa_is_set_up(org_a, owner_a, api_for):
    client = api_for(owner_a)
    assert client.get("/api/v1/organization/").status_code == 200
    require_mfa(org_a)

    refused = client.get("/api/v1/organization/")
    confirmed_device(owner_a.user)
    again = client.get("/api/v1/organization/")

    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "two-factor authentication (MFA)" in refused.json()["detail"]
    assert again.status_code == 200


def test_a_session_not_verified_with_mfa_is_refused_by_the_api(org_a, owner_a):
    confirmed_device(owner_a.user)  # has a device, but this session did not sign in with it
    client = signed_in(owner_a.user)
    client.get("/o/acme/")  # selects the organisation for session API calls
    require_mfa(org_a)

    response = client.get("/api/v1/organization/")

    assert response.status_code == 403
    assert "MFA" in response.json()["detail"]


def test_websockets_need_mfa_where_the_organisation_requires_it(org_a, owner_a):
    require_mfa(org_a)

    without_device = subscription_allowed(user=owner_a.user, org_slug="acme", topic="members")
    unverified_session = subscription_allowed(user=owner_a.user, org_slug="acme", topic="members", mfa_verified=False)
    confirmed_device(owner_a.user)
    verified = subscription_allowed(user=owner_a.user, org_slug="acme", topic="members", mfa_verified=True)

    assert without_device is None and unverified_session is None
    assert verified == org_a.pk
    assert AuditEvent.objects.filter(
        organization=org_a, action="access.denied",
        metadata__reason="websocket subscription refused: the organisation requires MFA",
    ).exists()


def test_a_websocket_session_counts_as_verified_only_with_the_users_device(org_a, owner_a, make_member):
    from apps.accounts.selectors import session_mfa_verified

    device = confirmed_device(owner_a.user)
    other = make_member(org_a, Role.ADMIN)

    assert session_mfa_verified(user=owner_a.user, session={"otp_device_id": device.persistent_id})
    assert not session_mfa_verified(user=other.user, session={"otp_device_id": device.persistent_id})
    assert not session_mfa_verified(user=owner_a.user, session={})


# Break-glass


def test_an_annotator_elevates_with_a_reason_and_gains_admin_scopes(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    assert client.get("/api/v1/members/").status_code == 403

    opened = client.post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json")
    members = client.get("/api/v1/members/")

    assert opened.status_code == 201
    assert opened.json()["role"] == "admin" and opened.json()["is_active"] is True
    assert members.status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"minutes": 30}, "reason"),
    ({"reason": "too short", "minutes": 30}, "reason"),
    ({"reason": REASON, "minutes": 241}, "minutes"),
    ({"reason": REASON, "minutes": 0}, "minutes"),
    ({"reason": REASON, "minutes": 30, "role": "owner"}, "role"),
])
def test_a_bad_elevation_is_refused_naming_the_field(body, field, org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = api_for(annotator).post("/api/v1/break-glass/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not BreakGlass.objects.filter(user=annotator.user).exists()


def test_an_owner_cannot_elevate_to_what_they_already_hold(org_a, owner_a, api_for):
    response = api_for(owner_a).post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json")

    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_an_expired_elevation_gives_nothing(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    elevation_id = client.post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json").json()["id"]
    BreakGlass.objects.filter(pk=elevation_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/members/")
    listed = client.get("/api/v1/break-glass/").json()["results"]

    assert response.status_code == 403
    assert listed[0]["id"] == elevation_id and listed[0]["is_active"] is False


def test_ending_an_elevation_early_takes_the_scopes_back(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    elevation_id = client.post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json").json()["id"]

    ended = client.post(f"/api/v1/break-glass/{elevation_id}/end/")

    assert ended.status_code == 200 and ended.json()["is_active"] is False
    assert client.get("/api/v1/members/").status_code == 403


def test_a_compliance_officer_ends_and_sees_every_elevation_others_see_their_own(org_a, owner_a, make_member,
                                                                                api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    reviewer = make_member(org_a, Role.REVIEWER)
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)
    elevation = break_glass_open(org=org_a, actor=annotator.user, reason=REASON, minutes=30)

    others_view = api_for(reviewer).get("/api/v1/break-glass/").json()["results"]
    others_end = api_for(reviewer).post(f"/api/v1/break-glass/{elevation.pk}/end/")
    officer_view = api_for(officer).get("/api/v1/break-glass/").json()["results"]
    officer_end = api_for(officer).post(f"/api/v1/break-glass/{elevation.pk}/end/")

    assert others_view == [] and others_end.status_code == 404
    assert [e["id"] for e in officer_view] == [elevation.pk]
    assert officer_end.status_code == 200 and officer_end.json()["ended_at"] is not None


def test_every_audit_event_during_the_elevation_is_tagged(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    elevation_id = client.post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json").json()["id"]

    created = client.post("/api/v1/datasets/", {"name": "Incident fix"}, format="json")
    client.post(f"/api/v1/break-glass/{elevation_id}/end/")
    refused = client.post("/api/v1/datasets/", {"name": "After the end"}, format="json")

    events = {e.action: e.metadata for e in AuditEvent.objects.filter(organization=org_a, actor_user=annotator.user)}
    assert created.status_code == 201 and refused.status_code == 403
    assert events["break_glass.opened"]["break_glass"] == elevation_id
    assert events["dataset.created"]["break_glass"] == elevation_id
    assert events["break_glass.ended"]["break_glass"] == elevation_id
    assert "break_glass" not in events["access.denied"]


def test_an_elevation_cannot_be_made_permanent_by_granting_roles(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    client.post("/api/v1/break-glass/", {"reason": REASON, "minutes": 30}, format="json")

    response = client.patch(f"/api/v1/members/{annotator.pk}/", {"role": "admin"}, format="json")

    assert response.status_code == 403
    annotator.refresh_from_db()
    assert annotator.role == Role.ANNOTATOR


def test_compliance_officers_get_a_live_alert(org_a, owner_a, make_member, django_capture_on_commit_callbacks,
                                              monkeypatch):
    sent = []
    monkeypatch.setattr("apps.core.events.send_now", lambda group, event, data: sent.append((group, event, data)))
    annotator = make_member(org_a, Role.ANNOTATOR)

    with django_capture_on_commit_callbacks(execute=True):
        elevation = break_glass_open(org=org_a, actor=annotator.user, reason=REASON, minutes=30)

    assert (f"org.{org_a.pk}.audit", "break_glass.opened") in [(g, e) for g, e, _ in sent]
    alert = next(d for g, e, d in sent if e == "break_glass.opened")
    assert alert["id"] == elevation.pk and alert["reason"] == REASON and alert["email"] == annotator.user.email
    assert subscription_allowed(user=make_member(org_a, Role.COMPLIANCE_OFFICER).user, org_slug="acme",
                                topic="audit") == org_a.pk
    assert subscription_allowed(user=annotator.user, org_slug="acme", topic="audit") is None

