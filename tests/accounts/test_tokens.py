from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from tests.factories import make_token


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_created_token_is_shown_once_and_stored_hashed(org_a, owner_a, api_for):
    response = api_for(owner_a).post("/api/v1/tokens/", {"name": "nightly export", "days": 7}, format="json")

    body = response.json()
    token = ApiToken.objects.get(pk=body["id"])
    assert response.status_code == 201 and body["token"].startswith(f"dls_{token.key_id}_")
    assert body["token"] not in (token.key_hash, token.key_id) and len(token.key_hash) == 64
    assert bearer(body["token"]).get("/api/v1/organization/").status_code == 200
    assert "token" not in api_for(owner_a).get(f"/api/v1/tokens/{token.pk}/").json()


@pytest.mark.parametrize("header,detail", [
    ("Bearer", "The Authorization header must be 'Bearer <token>'."),
    ("Bearer dls_nope_nope", "The token is not valid."),
    ("Bearer something-else", "The token is not valid."),
    ("Bearer a b", "The Authorization header must be 'Bearer <token>'."),
])
def test_malformed_or_unknown_tokens_get_401_in_words(header, detail, db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/organization/")

    assert response.status_code == 401
    assert response.json()["detail"] == detail


def test_a_token_with_the_right_id_but_wrong_secret_is_refused(org_a, owner_a):
    _token, raw = make_token(owner_a)

    response = bearer(raw[:-3] + "xyz").get("/api/v1/organization/")

    assert response.status_code == 401


def test_expired_and_revoked_tokens_are_refused(org_a, owner_a):
    expired, raw_expired = make_token(owner_a)
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save()
    revoked, raw_revoked = make_token(owner_a)
    revoked.revoked_at = timezone.now()
    revoked.save()

    assert bearer(raw_expired).get("/api/v1/organization/").json()["detail"] == "The token has expired."
    assert bearer(raw_revoked).get("/api/v1/organization/").json()["detail"] == "The token was revoked."


def test_a_deactivated_users_token_is_refused(org_a, owner_a):
    _token, raw = make_token(owner_a)
    owner_a.user.is_active = False
    owner_a.user.save()

    assert bearer(raw).get("/api/v1/organization/").status_code == 401


def test_members_see_only_their_own_tokens_unless_they_manage_all(org_a, owner_a, make_member, api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    owners_token, _ = make_token(owner_a)

    annotator_view = {t["id"] for t in api_for(annotator).get("/api/v1/tokens/").json()["results"]}
    owner_view = {t["id"] for t in api_for(owner_a).get("/api/v1/tokens/").json()["results"]}

    assert owners_token.pk not in annotator_view
    assert owners_token.pk in owner_view
    assert api_for(annotator).delete(f"/api/v1/tokens/{owners_token.pk}/").status_code == 404


def test_token_lifetime_is_bounded(org_a, owner_a, api_for):
    response = api_for(owner_a).post("/api/v1/tokens/", {"name": "forever", "days": 5000}, format="json")

    assert response.status_code == 400
    assert "days" in response.json()["errors"]


class TestOperatorCommands:
    def test_create_org_member_and_token_for_scripts(self, db):
        call_command("create_org", "--slug", "initech", "--name", "Initech", "--region", "us",
                     "--owner-email", "boss@initech.test", "--owner-password", "a long enough passphrase")
        call_command("create_member", "--org", "initech", "--email", "ann@initech.test", "--role", "annotator",
                     "--password", "another long passphrase")
        out = StringIO()

        call_command("create_token", "--org", "initech", "--email", "ann@initech.test", "--name", "cli", stdout=out)

        raw = out.getvalue().strip()
        assert raw.startswith("dls_") and "\n" not in raw
        response = bearer(raw).get("/api/v1/organization/")
        assert response.json()["region"] == "us"
        assert AuditEvent.objects.filter(organization__slug="initech", action="organization.created").exists()

    def test_weak_passwords_and_unknown_regions_are_refused_in_words(self, db):
        with pytest.raises(CommandError, match="too short"):
            call_command("create_org", "--slug", "x", "--name", "X", "--owner-email", "a@x.test",
                         "--owner-password", "short")
        with pytest.raises(CommandError, match="invalid choice: 'mars'"):
            call_command("create_org", "--slug", "x", "--name", "X", "--region", "mars", "--owner-email", "a@x.test",
                         "--owner-password", "a long enough passphrase")

    def test_a_taken_slug_is_refused(self, org_a):
        with pytest.raises(CommandError, match="already taken"):
            call_command("create_org", "--slug", org_a.slug, "--name", "Again", "--owner-email", "a@x.test",
                         "--owner-password", "a long enough passphrase")
