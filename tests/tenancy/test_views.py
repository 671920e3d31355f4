"""The tenancy pages as a browser sees them: home, switcher, members, invitations, settings."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.tenancy import services
from apps.tenancy.models import Invitation, Membership
from apps.tenancy.roles import Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory

LINK = re.compile(r'value="(https?://[^"]+/invitations/[^"/]+/)"')


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invite(org, owner, email="joiner@example.test", role=Role.ANNOTATOR) -> str:
    _invitation, url = services.invitation_create(org=org, actor=owner.user, email=email, role=role)
    return urlsplit(url).path


# --- Home and switcher ---------------------------------------------------------------------


def test_anonymous_home_redirects_to_login(db):
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_home_redirects_to_the_first_organisation(org_a, owner_a):
    response = signed_in(owner_a.user).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/o/acme/"


def test_home_prefers_the_organisation_in_the_session(org_a, org_b, owner_a):
    MembershipFactory(organization=org_b, user=owner_a.user, role=Role.ANNOTATOR)
    client = signed_in(owner_a.user)
    client.get("/o/globex/")

    response = client.get("/")

    assert response["Location"] == "/o/globex/"


def test_home_without_organisation_says_so(db):
    response = signed_in(UserFactory()).get("/")

    assert response.status_code == 200
    assert b"You do not belong to any organisation yet" in response.content


def test_switcher_moves_to_another_organisation_of_mine(org_a, org_b, owner_a):
    MembershipFactory(organization=org_b, user=owner_a.user, role=Role.REVIEWER)
    client = signed_in(owner_a.user)

    page = client.get("/o/acme/")
    response = client.post("/switch/", {"org": "globex"})

    assert b'id="org-switcher-select"' in page.content and b"Globex Labs" in page.content
    assert response["Location"] == "/o/globex/"
    assert client.session["current_org_id"] == org_b.pk


def test_switcher_refuses_an_organisation_i_do_not_belong_to(org_a, org_b, owner_a):
    response = signed_in(owner_a.user).post("/switch/", {"org": "globex"})

    assert response.status_code == 404


def test_switcher_ignores_an_offsite_next(org_a, owner_a):
    response = signed_in(owner_a.user).post("/switch/", {"org": "acme", "next": "https://evil.test/"})

    assert response["Location"] == "/o/acme/"


# --- Org pages -----------------------------------------------------------------------------


def test_org_home_shows_name_role_and_member_count(org_a, owner_a, make_member):
    make_member(org_a, Role.ANNOTATOR)

    response = signed_in(owner_a.user).get("/o/acme/")

    assert response.status_code == 200
    text = response.content.decode()
    assert "Acme Vision" in text and "Owner" in text and "EU" in text
    assert re.search(r"<dt>Members</dt><dd>2</dd>", text)


def test_another_organisations_slug_is_404(org_a, org_b, owner_a):
    response = signed_in(owner_a.user).get("/o/globex/members/")

    assert response.status_code == 404
    assert b"Not found" in response.content


def test_an_unknown_slug_is_404_in_words(org_a, owner_a):
    response = signed_in(owner_a.user).get("/o/nowhere/")

    assert response.status_code == 404
    assert b"There is nothing here" in response.content


def test_members_page_is_visible_to_the_owner(org_a, owner_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR, full_name="Ada Lovelace")

    response = signed_in(owner_a.user).get("/o/acme/members/")

    assert response.status_code == 200
    text = response.content.decode()
    assert annotator.user.email in text and "Ada Lovelace" in text
    assert f'data-user-id="{annotator.user_id}"' in text
    assert "Send invitation" in text and "live-members.js" in text


def test_members_page_is_forbidden_to_an_annotator(org_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(annotator.user).get("/o/acme/members/")

    assert response.status_code == 403
    assert b"member.view" in response.content


def test_a_member_name_with_markup_is_escaped(org_a, owner_a, make_member):
    make_member(org_a, Role.ANNOTATOR, full_name='<script>alert("x")</script><img src=x onerror=alert(1)>')

    text = signed_in(owner_a.user).get("/o/acme/members/").content.decode()

    assert "<script>alert(" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text


def test_invite_roles_are_limited_to_what_the_viewer_may_grant(org_a, make_member):
    manager = make_member(org_a, Role.MANAGER)

    text = signed_in(manager.user).get("/o/acme/members/").content.decode()

    form = text[text.index('id="invite-title"'):]
    options = re.findall(r'<option value="([a-z_]+)"', form.split("</select>")[0])
    assert options == ["annotator", "reviewer"]


def test_inviting_through_the_page_shows_the_link_once(org_a, owner_a):
    client = signed_in(owner_a.user)

    response = client.post("/o/acme/invitations/", {"email": "New.Person@Example.test", "role": "annotator"},
                           follow=True)

    text = response.content.decode()
    assert "Share this link" in text
    link = LINK.search(text).group(1)
    assert Invitation.objects.get(organization=org_a, email="new.person@example.test").status == "pending"
    assert link not in client.get("/o/acme/members/").content.decode()


def test_inviting_above_my_role_is_refused_in_words(org_a, make_member):
    manager = make_member(org_a, Role.MANAGER)

    response = signed_in(manager.user).post("/o/acme/invitations/", {"email": "x@example.test", "role": "owner"})

    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not Invitation.objects.filter(email="x@example.test").exists()


def test_inviting_an_existing_member_is_refused_next_to_the_form(org_a, owner_a, make_member):
    member = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(owner_a.user).post("/o/acme/invitations/", {"email": member.user.email, "role": "reviewer"})

    assert response.status_code == 400
    assert f"{member.user.email} is already a member of Acme Vision.".encode() in response.content


def test_inviting_outside_the_allowed_domains_is_refused_in_words(org_a, owner_a):
    org_a.allowed_email_domains = ["acme.test"]
    org_a.save()

    response = signed_in(owner_a.user).post("/o/acme/invitations/", {"email": "x@other.test", "role": "reviewer"})

    assert response.status_code == 400
    assert b"only admits addresses at: acme.test" in response.content


def test_revoking_an_invitation_kills_its_link(org_a, owner_a):
    path = invite(org_a, owner_a)
    invitation = Invitation.objects.get(organization=org_a)

    signed_in(owner_a.user).post(f"/o/acme/invitations/{invitation.pk}/revoke/")

    response = Client().get(path)
    assert response.status_code == 410
    assert b"This invitation was withdrawn" in response.content


def test_changing_a_role_through_the_page(org_a, owner_a, make_member):
    member = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(owner_a.user).post(f"/o/acme/members/{member.pk}/role/", {"role": "reviewer"}, follow=True)

    member.refresh_from_db()
    assert member.role == Role.REVIEWER
    assert f"{member.user.email} is now Reviewer.".encode() in response.content


def test_an_unknown_role_is_refused_next_to_the_row(org_a, owner_a, make_member):
    member = make_member(org_a, Role.ANNOTATOR)

    response = signed_in(owner_a.user).post(f"/o/acme/members/{member.pk}/role/", {"role": "emperor"})

    assert response.status_code == 400
    assert f'id="member-{member.pk}-error"'.encode() in response.content
    assert b"Unknown role" in response.content


def test_removing_a_member_asks_first_then_removes(org_a, owner_a, make_member):
    member = make_member(org_a, Role.ANNOTATOR)
    client = signed_in(owner_a.user)

    confirm = client.get(f"/o/acme/members/{member.pk}/remove/")
    response = client.post(f"/o/acme/members/{member.pk}/remove/", follow=True)

    assert b"API tokens for this organisation are revoked" in confirm.content
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert f"{member.user.email} was removed from Acme Vision.".encode() in response.content


def test_a_member_of_another_organisation_cannot_be_removed_by_id(org_a, org_b, owner_a, owner_b):
    response = signed_in(owner_a.user).post(f"/o/acme/members/{owner_b.pk}/remove/")

    assert response.status_code == 404
    assert Membership.objects.filter(pk=owner_b.pk).exists()


# --- Accepting invitations ----------------------------------------------------------------


def test_anonymous_visitor_sees_the_organisation_and_a_sign_up_form(org_a, owner_a):
    path = invite(org_a, owner_a)

    response = Client().get(path)

    text = response.content.decode()
    assert response.status_code == 200
    assert "Join Acme Vision" in text and "joiner@example.test" in text
    assert "Create account and join" in text


def test_signing_up_through_an_invitation_creates_the_membership(org_a, owner_a):
    path = invite(org_a, owner_a, role=Role.REVIEWER)
    client = Client()

    response = client.post(path, {"full_name": "Joan Joiner", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/o/acme/"
    membership = Membership.objects.get(organization=org_a, user__email="joiner@example.test")
    assert membership.role == Role.REVIEWER and membership.user.full_name == "Joan Joiner"
    assert client.get("/o/acme/").status_code == 200


def test_sign_up_with_a_weak_password_is_refused_in_words(org_a, owner_a):
    path = invite(org_a, owner_a)

    response = Client().post(path, {"full_name": "Joan", "password1": "12345678", "password2": "12345678"})

    assert response.status_code == 400
    assert b"This password is too short" in response.content
    assert not Membership.objects.filter(user__email="joiner@example.test").exists()


def test_sign_up_with_two_different_passwords_is_refused_in_words(org_a, owner_a):
    path = invite(org_a, owner_a)

    response = Client().post(path, {"full_name": "Joan", "password1": PASSWORD, "password2": PASSWORD + "x"})

    assert response.status_code == 400
    assert b"The two passwords are not the same." in response.content


def test_an_existing_account_is_asked_to_sign_in_to_accept(org_a, owner_a):
    UserFactory(email="joiner@example.test")
    path = invite(org_a, owner_a)

    response = Client().get(path)

    text = response.content.decode()
    assert "Sign in to accept" in text
    assert f"/accounts/login/?next={path.replace('/', '%2F')}" in text


def test_a_signed_in_invitee_accepts_with_one_button(org_a, owner_a):
    user = UserFactory(email="joiner@example.test")
    path = invite(org_a, owner_a)
    client = signed_in(user)

    page = client.get(path)
    response = client.post(path, follow=True)

    assert b"Accept and join Acme Vision" in page.content
    assert response.redirect_chain[-1][0] == "/o/acme/"
    assert b"You joined Acme Vision as Annotator." in response.content
    assert Membership.objects.filter(organization=org_a, user=user).exists()


def test_a_reused_link_is_refused_in_words(org_a, owner_a):
    user = UserFactory(email="joiner@example.test")
    path = invite(org_a, owner_a)
    client = signed_in(user)
    client.post(path)

    again = client.post(path)
    anonymous = Client().get(path)

    assert again.status_code == 410 and b"This invitation has already been used." in again.content
    assert anonymous.status_code == 410 and b"This invitation has already been used." in anonymous.content
    assert Membership.objects.filter(organization=org_a, user=user).count() == 1


def test_an_invitation_for_someone_else_is_refused_in_words(org_a, owner_a):
    other = UserFactory(email="other@example.test")
    path = invite(org_a, owner_a)
    client = signed_in(other)

    page = client.get(path)
    response = client.post(path)

    assert b"but you are signed in as other@example.test" in page.content
    assert response.status_code == 400
    assert b"This invitation is for joiner@example.test" in response.content
    assert not Membership.objects.filter(organization=org_a, user=other).exists()


def test_an_invalid_link_is_refused_in_words(db):
    response = Client().get("/invitations/not-a-real-token/")

    assert response.status_code == 400
    assert b"This invitation link is not valid" in response.content


# --- Settings ------------------------------------------------------------------------------


def test_owner_updates_the_organisation_policies(org_a, owner_a):
    response = signed_in(owner_a.user).post("/o/acme/settings/", {
        "name": "Acme Vision EU", "mfa_required": "", "idle_logoff_minutes": "30",
        "allowed_email_domains": "acme.test, @Example.ORG",
    }, follow=True)

    org_a.refresh_from_db()
    assert (org_a.name, org_a.idle_logoff_minutes) == ("Acme Vision EU", 30)
    assert org_a.allowed_email_domains == ["acme.test", "example.org"]
    assert b"The organisation settings were saved." in response.content


def test_settings_refuse_bad_values_in_words(org_a, owner_a):
    response = signed_in(owner_a.user).post("/o/acme/settings/", {
        "name": "", "idle_logoff_minutes": "2", "allowed_email_domains": "not a domain",
    })

    assert response.status_code == 400
    text = response.content.decode()
    assert "This field is required." in text
    assert "greater than or equal to 5" in text
    assert "These are not domain names: not a domain." in text


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR, Role.COMPLIANCE_OFFICER])
def test_settings_are_forbidden_without_org_manage(org_a, make_member, role):
    member = make_member(org_a, role)

    response = signed_in(member.user).get("/o/acme/settings/")

    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_members_page_query_count_does_not_grow_with_members(org_a, owner_a, make_member,
                                                             django_assert_max_num_queries):
    client = signed_in(owner_a.user)
    for _ in range(3):
        make_member(org_a, Role.ANNOTATOR)
        services.invitation_create(org=org_a, actor=owner_a.user, email=f"x{_}@example.test", role=Role.REVIEWER)
    client.get("/o/acme/members/")
    with django_assert_max_num_queries(40) as few:
        client.get("/o/acme/members/")
    for _ in range(20):
        make_member(org_a, Role.ANNOTATOR)
        services.invitation_create(org=org_a, actor=owner_a.user, email=f"y{_}@example.test", role=Role.REVIEWER)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/o/acme/members/")

    assert response.content.count(b"data-user-id=") == 24
