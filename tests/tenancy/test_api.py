import pytest
from django.core import mail
from django.test import Client

from apps.compliance.models import AuditEvent
from apps.tenancy.models import Invitation, Membership
from apps.tenancy.roles import Role
from tests.factories import MembershipFactory


def test_members_list_is_cursor_paginated(org_a, owner_a, make_member, api_for):
    for _ in range(4):
        make_member(org_a, Role.ANNOTATOR)
    client = api_for(owner_a)

    first = client.get("/api/v1/members/?page_size=3").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 3 and len(second["results"]) == 2
    assert {m["id"] for m in first["results"]}.isdisjoint({m["id"] for m in second["results"]})
    assert second["next"] is None


def test_members_list_query_count_does_not_grow_with_members(org_a, owner_a, make_member, api_for,
                                                             django_assert_max_num_queries):
    for _ in range(20):
        make_member(org_a, Role.ANNOTATOR)
    client = api_for(owner_a)
    client.get("/api/v1/members/")

    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/members/")

    assert len(response.json()["results"]) == 21


def test_bad_input_gets_problem_json_naming_the_field(org_a, owner_a, make_member, api_for):
    member = make_member(org_a, Role.ANNOTATOR)

    response = api_for(owner_a).patch(f"/api/v1/members/{member.pk}/", {"role": "emperor"}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and "role" in body["detail"]
    assert body["errors"]["role"] == ['"emperor" is not a valid choice.']


def test_an_unknown_api_route_is_a_problem_json_404(org_a, owner_a, api_for):
    response = api_for(owner_a).get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_unauthenticated_api_calls_get_401(db):
    response = Client().get("/api/v1/members/")

    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


def test_session_api_calls_act_in_the_sessions_organisation(org_a, org_b, owner_a):
    MembershipFactory(organization=org_b, user=owner_a.user, role=Role.ANNOTATOR)
    client = Client()
    client.force_login(owner_a.user)
    session = client.session
    session["current_org_id"] = org_b.pk
    session.save()

    response = client.get("/api/v1/organization/", HTTP_X_ORGANIZATION="acme")

    assert response.json()["slug"] == "globex"


def test_session_without_membership_in_its_organisation_is_refused(org_a, org_b, owner_a):
    client = Client()
    client.force_login(owner_a.user)
    session = client.session
    session["current_org_id"] = org_b.pk
    session.save()

    assert client.get("/api/v1/organization/").status_code == 403


class TestRoleChanges:
    def test_nobody_changes_their_own_role(self, org_a, owner_a, make_member, api_for):
        admin = make_member(org_a, Role.ADMIN)

        response = api_for(admin).patch(f"/api/v1/members/{admin.pk}/", {"role": Role.OWNER}, format="json")

        assert response.status_code == 403
        admin.refresh_from_db()
        assert admin.role == Role.ADMIN

    def test_an_admin_cannot_demote_an_owner(self, org_a, owner_a, make_member, api_for):
        admin = make_member(org_a, Role.ADMIN)

        response = api_for(admin).patch(f"/api/v1/members/{owner_a.pk}/", {"role": Role.ANNOTATOR}, format="json")

        assert response.status_code == 403
        owner_a.refresh_from_db()
        assert owner_a.role == Role.OWNER

    def test_the_last_owner_cannot_be_removed_or_demoted(self, org_a, owner_a, make_member, api_for):
        other_owner = make_member(org_a, Role.OWNER)
        client = api_for(other_owner)
        assert client.delete(f"/api/v1/members/{owner_a.pk}/").status_code == 204

        response = api_for(other_owner).patch(f"/api/v1/members/{other_owner.pk}/", {"role": "admin"}, format="json")

        assert response.status_code == 403
        assert Membership.objects.filter(organization=org_a, role=Role.OWNER).count() == 1

    def test_removing_a_member_revokes_their_tokens_at_once(self, org_a, owner_a, make_member, api_for):
        member = make_member(org_a, Role.MANAGER)
        member_client = api_for(member)
        assert member_client.get("/api/v1/members/").status_code == 200

        api_for(owner_a).delete(f"/api/v1/members/{member.pk}/")

        response = member_client.get("/api/v1/members/")
        assert response.status_code == 401
        assert response.json()["detail"] == "The token was revoked."


class TestInvitations:
    def test_inviting_emails_a_single_use_link_and_shows_it_once(self, org_a, owner_a, api_for,
                                                                 django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = api_for(owner_a).post(
                "/api/v1/invitations/", {"email": "New.Person@Acme.test", "role": "annotator"}, format="json"
            )

        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "new.person@acme.test" and body["status"] == "pending"
        assert len(mail.outbox) == 1 and body["accept_url"] in mail.outbox[0].body
        assert "accept_url" not in api_for(owner_a).get(f"/api/v1/invitations/{body['id']}/").json()

    def test_allowed_email_domains_are_enforced(self, org_a, owner_a, api_for):
        org_a.allowed_email_domains = ["acme.test"]
        org_a.save()

        response = api_for(owner_a).post(
            "/api/v1/invitations/", {"email": "someone@gmail.test", "role": "annotator"}, format="json"
        )

        assert response.status_code == 400
        assert "acme.test" in response.json()["errors"]["email"][0]

    def test_an_existing_member_is_not_invited_again(self, org_a, owner_a, make_member, api_for):
        member = make_member(org_a, Role.ANNOTATOR)

        response = api_for(owner_a).post(
            "/api/v1/invitations/", {"email": member.user.email.upper(), "role": "reviewer"}, format="json"
        )

        assert response.status_code == 400
        assert "already a member" in response.json()["errors"]["email"][0]

    def test_a_new_invitation_replaces_the_pending_one(self, org_a, owner_a, api_for):
        client = api_for(owner_a)
        first = client.post("/api/v1/invitations/", {"email": "p@acme.test", "role": "annotator"}, format="json")
        client.post("/api/v1/invitations/", {"email": "p@acme.test", "role": "reviewer"}, format="json")

        assert Invitation.objects.get(pk=first.json()["id"]).status == Invitation.Status.REVOKED


class TestInvitationAcceptance:
    @pytest.fixture
    def invite(self, org_a, owner_a, api_for):
        body = api_for(owner_a).post(
            "/api/v1/invitations/", {"email": "joiner@acme.test", "role": "reviewer"}, format="json"
        ).json()
        return body["accept_url"].rstrip("/").rsplit("/", 1)[-1]

    def test_accepting_makes_a_member_once(self, invite, org_a):
        from apps.tenancy.services import InvitationError, invitation_accept
        from tests.factories import UserFactory

        user = UserFactory(email="joiner@acme.test")

        membership = invitation_accept(raw_token=invite, user=user)

        assert (membership.organization_id, membership.role) == (org_a.pk, Role.REVIEWER)
        with pytest.raises(InvitationError, match="already been used"):
            invitation_accept(raw_token=invite, user=user)
        assert AuditEvent.objects.filter(organization=org_a, action="invitation.reuse_refused").count() == 1

    def test_the_invitation_is_for_its_email_only(self, invite, org_a):
        from apps.tenancy.services import InvitationError, invitation_accept
        from tests.factories import UserFactory

        with pytest.raises(InvitationError, match=r"This invitation is for joiner@acme\.test"):
            invitation_accept(raw_token=invite, user=UserFactory(email="intruder@acme.test"))
        assert not Membership.objects.filter(organization=org_a, user__email="intruder@acme.test").exists()

    def test_an_expired_invitation_is_refused(self, invite, org_a):
        from django.utils import timezone

        from apps.tenancy.services import InvitationError, invitation_accept
        from tests.factories import UserFactory

        Invitation.objects.filter(organization=org_a).update(expires_at=timezone.now())

        with pytest.raises(InvitationError, match="expired"):
            invitation_accept(raw_token=invite, user=UserFactory(email="joiner@acme.test"))

    def test_a_made_up_token_is_refused(self, db):
        from apps.tenancy.services import InvitationError, invitation_accept
        from tests.factories import UserFactory

        with pytest.raises(InvitationError, match="not valid"):
            invitation_accept(raw_token="made-up", user=UserFactory())


class TestInvitationSignup:
    @pytest.fixture
    def invite(self, org_a, owner_a, api_for):
        body = api_for(owner_a).post(
            "/api/v1/invitations/", {"email": "fresh@acme.test", "role": "annotator"}, format="json"
        ).json()
        return body["accept_url"].rstrip("/").rsplit("/", 1)[-1]

    def test_signing_up_creates_the_account_and_the_membership_together(self, invite, org_a):
        from apps.tenancy.services import invitation_signup

        membership = invitation_signup(raw_token=invite, full_name="Fresh Person", password="a long enough passphrase")

        assert (membership.organization_id, membership.user.email, membership.user.full_name) == (
            org_a.pk, "fresh@acme.test", "Fresh Person"
        )
        assert membership.user.check_password("a long enough passphrase")

    def test_a_weak_password_names_the_field_and_creates_nothing(self, invite):
        from django.contrib.auth import get_user_model
        from django.core.exceptions import ValidationError

        from apps.tenancy.services import invitation_signup

        with pytest.raises(ValidationError) as error:
            invitation_signup(raw_token=invite, full_name="Fresh", password="short")

        assert "password" in error.value.message_dict
        assert not get_user_model().objects.filter(email="fresh@acme.test").exists()

    def test_an_existing_account_must_sign_in_instead(self, invite):
        from apps.tenancy.services import InvitationError, invitation_signup
        from tests.factories import UserFactory

        UserFactory(email="fresh@acme.test")

        with pytest.raises(InvitationError, match="sign in to accept"):
            invitation_signup(raw_token=invite, full_name="Fresh", password="a long enough passphrase")
