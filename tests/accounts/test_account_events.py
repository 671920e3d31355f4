"""Account events are in the audit trail from day one: logins, failures, lockouts, logouts, MFA changes."""

import time

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from django_otp.oath import totp

from apps.accounts import services
from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from tests.factories import PASSWORD, MembershipFactory


def attempt(email, password):
    request = RequestFactory().post("/accounts/login/", {"username": email, "password": password},
                                    REMOTE_ADDR="127.0.0.5")
    return authenticate(request=request, username=email, password=password)


def actions(org):
    return list(AuditEvent.objects.filter(organization=org).order_by("id").values_list("action", flat=True))


def test_a_login_is_recorded_in_every_organisation_of_the_user(org_a, org_b, owner_a):
    MembershipFactory(organization=org_b, user=owner_a.user, role=Role.REVIEWER)

    Client().post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})

    assert actions(org_a)[-1] == "user.logged_in"
    assert actions(org_b)[-1] == "user.logged_in"


def test_a_failed_login_is_recorded_with_the_attempted_account(org_a, owner_a):
    assert attempt(owner_a.user.email, "wrong password") is None

    event = AuditEvent.objects.get(organization=org_a, action="user.login_failed")
    assert (event.actor_type, event.actor_label, event.target_id) == (
        AuditEvent.ActorType.ANONYMOUS, owner_a.user.email, str(owner_a.user_id)
    )


def test_a_failed_login_for_an_unknown_email_goes_to_the_platform_chain(db):
    attempt("nobody@nowhere.test", "whatever password")

    event = AuditEvent.objects.get(organization__isnull=True, action="user.login_failed")
    assert event.actor_label == "nobody@nowhere.test" and event.metadata == {"reason": "unknown email"}


def test_repeated_failures_lock_the_account_even_with_the_right_password(org_a, owner_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(owner_a.user.email, "wrong password")

    assert attempt(owner_a.user.email, PASSWORD) is None
    assert "user.locked_out" in actions(org_a)


def test_the_login_page_answers_a_locked_account_in_words(org_a, owner_a, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": owner_a.user.email, "password": "wrong password"})

    response = client.post("/accounts/login/", {"username": owner_a.user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content


def test_logout_is_recorded(org_a, owner_a):
    client = Client()
    client.force_login(owner_a.user)

    client.post("/accounts/logout/")

    assert actions(org_a)[-1] == "user.logged_out"


def test_enabling_and_disabling_mfa_is_recorded(org_a, owner_a):
    user = owner_a.user
    device = services.mfa_begin_setup(user=user)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"

    services.mfa_confirm(user=user, device=device, code=code)
    services.mfa_disable(user=user, password=PASSWORD)

    assert actions(org_a)[-2:] == ["user.mfa_enabled", "user.mfa_disabled"]


def test_a_wrong_mfa_code_is_refused_in_words(org_a, owner_a):
    from django.core.exceptions import ValidationError

    device = services.mfa_begin_setup(user=owner_a.user)

    with pytest.raises(ValidationError, match="not valid"):
        services.mfa_confirm(user=owner_a.user, device=device, code="not-a-code")


def test_mfa_cannot_be_disabled_while_an_organisation_requires_it(org_a, owner_a):
    from django.core.exceptions import ValidationError

    org_a.mfa_required = True
    org_a.save()

    with pytest.raises(ValidationError, match="require two-factor"):
        services.mfa_disable(user=owner_a.user, password=PASSWORD)


def test_an_idle_session_is_signed_out_on_the_server_and_audited(org_a, owner_a):
    client = Client()
    client.force_login(owner_a.user)
    session = client.session
    session["current_org_id"] = org_a.pk
    session["idle_logoff_minutes"] = 15
    session["last_activity"] = time.time() - 16 * 60
    session.save()

    response = client.get("/api/v1/organization/")

    assert response.status_code == 401
    assert "inactivity" in response.json()["detail"]
    assert "session.idle_logout" in actions(org_a)
    assert "user.logged_out" not in actions(org_a)
    assert client.get("/api/v1/organization/").status_code in (401, 403)


def idle_client(org, user, minutes=15):
    client = Client()
    client.force_login(user)
    session = client.session
    session["current_org_id"] = org.pk
    session["idle_logoff_minutes"] = minutes
    session["last_activity"] = time.time() - (minutes + 1) * 60
    session.save()
    return client


def test_an_idle_page_request_goes_to_the_login_page_saying_why(org_a, owner_a):
    client = idle_client(org_a, owner_a.user)

    response = client.get("/o/acme/datasets/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert "signed out after 15 minutes of inactivity" in response.content.decode()
    assert actions(org_a).count("session.idle_logout") == 1


def test_an_api_token_is_not_a_session_and_is_never_idle_logged_out(org_a, owner_a):
    from rest_framework.test import APIClient

    _, raw = services.token_create(org=org_a, actor=owner_a.user, name="nightly export")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/v1/organization/").status_code == 200
    assert "session.idle_logout" not in actions(org_a)


def test_an_active_session_stays_signed_in(org_a, owner_a):
    client = Client()
    client.force_login(owner_a.user)
    session = client.session
    session["current_org_id"] = org_a.pk
    session["last_activity"] = time.time() - 60
    session.save()

    assert client.get("/api/v1/organization/").status_code == 200
