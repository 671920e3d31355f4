"""Account pages: sign-in with and without a second factor, sign-out, passwords, MFA set-up, tokens."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services
from apps.accounts.models import ApiToken
from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from tests.factories import PASSWORD, UserFactory


def code_for(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def wrong_code_for(device) -> str:
    return f"{(int(code_for(device)) + 1) % 1_000_000:06d}"


def confirmed_device(user) -> TOTPDevice:
    device = services.mfa_begin_setup(user=user)
    services.mfa_confirm(user=user, device=device, code=code_for(device))
    # As if it was set up earlier: the code that confirmed it is not a replay of the next sign-in's.
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    device.refresh_from_db()
    return device


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Sign in -------------------------------------------------------------------------------


def test_login_page_is_a_labelled_form(db):
    text = Client().get("/accounts/login/").content.decode()

    assert '<label for="id_username">Email address:</label>' in text
    assert 'name="csrfmiddlewaretoken"' in text and 'autocomplete="current-password"' in text


def test_login_with_the_right_password_lands_in_the_organisation(org_a, owner_a):
    client = Client()

    response = client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/o/acme/"
    assert b"Acme Vision" in response.content


def test_login_honours_a_safe_next_only(org_a, owner_a):
    safe = Client().post("/accounts/login/?next=/o/acme/members/",
                         {"username": owner_a.user.email, "password": PASSWORD})
    unsafe = Client().post("/accounts/login/",
                           {"username": owner_a.user.email, "password": PASSWORD, "next": "//evil.test/x"})

    assert safe["Location"] == "/o/acme/members/"
    assert unsafe["Location"] == "/"


def test_login_with_a_wrong_password_says_so(org_a, owner_a):
    client = Client()

    response = client.post("/accounts/login/", {"username": owner_a.user.email, "password": "wrong password"})

    assert response.status_code == 400
    assert b"That email address and password do not match an account." in response.content
    assert client.get("/o/acme/").status_code == 302


def test_login_with_mfa_needs_a_code_before_the_session_is_signed_in(org_a, owner_a):
    device = confirmed_device(owner_a.user)
    client = Client()

    response = client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})

    assert response["Location"] == "/accounts/login/code/"
    assert client.get("/o/acme/")["Location"].startswith("/accounts/login/")
    code_page = client.get("/accounts/login/code/")
    assert b"Enter your 6-digit code" in code_page.content

    signed = client.post("/accounts/login/code/", {"code": code_for(device)})

    assert signed["Location"] == "/"
    assert client.get("/o/acme/").status_code == 200


def test_a_wrong_code_is_refused_in_words(org_a, owner_a):
    device = confirmed_device(owner_a.user)
    client = Client()
    client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})

    response = client.post("/accounts/login/code/", {"code": wrong_code_for(device)})

    assert response.status_code == 400
    assert b"That code is not valid. You have 4 more tries." in response.content
    assert AuditEvent.objects.filter(organization=org_a, action="user.mfa_failed").exists()


def test_five_wrong_codes_restart_the_sign_in(org_a, owner_a):
    device = confirmed_device(owner_a.user)
    client = Client()
    client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})
    for _ in range(4):
        client.post("/accounts/login/code/", {"code": wrong_code_for(device)})
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    fifth = client.post("/accounts/login/code/", {"code": wrong_code_for(device)}, follow=True)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    after = client.post("/accounts/login/code/", {"code": code_for(device)}, follow=True)

    assert fifth.redirect_chain[-1][0] == "/accounts/login/"
    assert b"Too many wrong codes." in fifth.content
    assert b"Your sign-in has expired" in after.content
    assert client.get("/o/acme/").status_code == 302


def test_the_code_step_without_a_password_first_goes_back_to_login(db):
    response = Client().get("/accounts/login/code/")

    assert response["Location"] == "/accounts/login/"


def test_logout_is_post_only(org_a, owner_a):
    client = signed_in(owner_a.user)

    refused = client.get("/accounts/logout/")
    response = client.post("/accounts/logout/", follow=True)

    assert refused.status_code == 405
    assert b"You are signed out." in response.content
    assert client.get("/o/acme/").status_code == 302


def test_a_locked_account_gets_a_429_page_in_words(org_a, owner_a, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": owner_a.user.email, "password": "wrong password"})

    response = client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content and b"Try again in 15 minutes" in response.content


# --- Passwords -----------------------------------------------------------------------------


def test_password_change_needs_the_old_password(org_a, owner_a):
    client = signed_in(owner_a.user)
    new = "a much longer new passphrase"

    refused = client.post("/accounts/password/", {"old_password": "nope", "new_password1": new, "new_password2": new})
    changed = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new,
                                                  "new_password2": new}, follow=True)

    assert refused.status_code == 200 and b"Your old password was entered incorrectly" in refused.content
    assert b"Your password has been changed." in changed.content
    owner_a.user.refresh_from_db()
    assert owner_a.user.check_password(new)


def test_password_reset_mails_a_link_that_sets_a_password_without_signing_in(org_a, owner_a, settings):
    settings.SITE_URL = "https://app.dlsaas.test"
    client = Client()

    client.post("/accounts/password/reset/", {"email": owner_a.user.email})
    link = re.search(r"https://app\.dlsaas\.test(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    new = "another long passphrase"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}, follow=True)

    assert b"Your password has been changed" in done.content
    assert client.get("/o/acme/").status_code == 302
    owner_a.user.refresh_from_db()
    assert owner_a.user.check_password(new)


# --- MFA page ------------------------------------------------------------------------------


def test_mfa_set_up_shows_a_qr_code_and_key_then_turns_on(org_a, owner_a):
    client = signed_in(owner_a.user)

    begun = client.post("/accounts/mfa/", {"action": "begin"}, follow=True)
    device = TOTPDevice.objects.get(user=owner_a.user, confirmed=False)
    confirmed = client.post("/accounts/mfa/", {"action": "confirm", "code": code_for(device)}, follow=True)

    text = begun.content.decode()
    assert "<svg" in text and 'aria-label="QR code' in text
    assert re.search(r'id="mfa-secret">[A-Z2-7 ]{20,}<', text)
    assert b"Two-factor authentication is on." in confirmed.content
    assert services.mfa_device_of(owner_a.user) is not None


def test_mfa_set_up_refuses_a_wrong_code_in_words(org_a, owner_a):
    client = signed_in(owner_a.user)
    client.post("/accounts/mfa/", {"action": "begin"})
    device = TOTPDevice.objects.get(user=owner_a.user, confirmed=False)

    response = client.post("/accounts/mfa/", {"action": "confirm", "code": wrong_code_for(device)})

    assert response.status_code == 400
    assert b"That code is not valid." in response.content
    assert services.mfa_device_of(owner_a.user) is None


def test_mfa_set_up_returns_to_a_safe_next(org_a, owner_a):
    org_a.mfa_required = True
    org_a.save()
    client = signed_in(owner_a.user)

    gate = client.get("/o/acme/members/")
    client.post(gate["Location"], {"action": "begin", "next": "/o/acme/members/"})
    device = TOTPDevice.objects.get(user=owner_a.user, confirmed=False)
    response = client.post("/accounts/mfa/?next=/o/acme/members/", {"action": "confirm", "code": code_for(device)})

    assert gate["Location"] == "/accounts/mfa/?next=/o/acme/members/"
    assert response["Location"] == "/o/acme/members/"
    assert client.get("/o/acme/members/").status_code == 200


def test_mfa_disable_needs_the_password(org_a, owner_a):
    confirmed_device(owner_a.user)
    client = signed_in(owner_a.user)

    refused = client.post("/accounts/mfa/", {"action": "disable", "password": "nope"})
    done = client.post("/accounts/mfa/", {"action": "disable", "password": PASSWORD}, follow=True)

    assert refused.status_code == 400 and b"Your password is not correct." in refused.content
    assert b"Two-factor authentication is off." in done.content
    assert services.mfa_device_of(owner_a.user) is None


# --- Tokens --------------------------------------------------------------------------------


def test_creating_a_token_shows_it_once(org_a, owner_a):
    client = signed_in(owner_a.user)

    response = client.post("/o/acme/tokens/new/", {"name": "export script", "days": "30"}, follow=True)
    raw = re.search(r'id="new-token-value" class="copy-field" type="text" readonly value="(dls_[^"]+)"',
                    response.content.decode()).group(1)
    again = client.get("/o/acme/tokens/")

    assert ApiToken.objects.get(organization=org_a, name="export script").key_id in raw
    assert raw not in again.content.decode()
    assert b"export script" in again.content


def test_a_token_form_error_is_in_words(org_a, owner_a):
    response = signed_in(owner_a.user).post("/o/acme/tokens/new/", {"name": "", "days": "999"})

    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert b"less than or equal to 366" in response.content


def test_revoking_my_token(org_a, owner_a):
    token, _raw = services.token_create(org=org_a, actor=owner_a.user, name="old")

    signed_in(owner_a.user).post(f"/o/acme/tokens/{token.pk}/revoke/")

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_an_annotator_sees_only_own_tokens_and_cannot_revoke_others(org_a, owner_a, make_member):
    annotator = make_member(org_a, Role.ANNOTATOR)
    owners, _ = services.token_create(org=org_a, actor=owner_a.user, name="owner secret script")
    client = signed_in(annotator.user)

    page = client.get("/o/acme/tokens/")
    revoke = client.post(f"/o/acme/tokens/{owners.pk}/revoke/")

    assert page.status_code == 200 and b"owner secret script" not in page.content
    assert revoke.status_code == 404


@pytest.mark.parametrize("path", ["/accounts/mfa/", "/accounts/password/", "/o/acme/tokens/"])
def test_account_pages_need_a_signed_in_user(org_a, path):
    response = Client().get(path)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_org_pages_have_a_skip_link_and_a_sign_out_form(org_a, owner_a):
    text = signed_in(owner_a.user).get("/o/acme/").content.decode()

    assert "Skip to main content" in text
    assert 'action="/accounts/logout/"' in text and owner_a.user.email in text


def test_account_menu_shows_for_a_user_with_no_organisation(db):
    user = UserFactory()

    text = signed_in(user).get("/accounts/mfa/").content.decode()

    assert "Status: off" in text and user.email in text
