"""Hostile input to the API: always a clear 4xx naming the problem, never a 500, nothing changed."""

import pytest

from apps.tenancy.models import Organization


@pytest.fixture
def client(owner_a, api_for):
    return api_for(owner_a)


def test_a_json_depth_bomb_is_a_400(client, org_a):
    bomb = "[" * 100_000 + "]" * 100_000

    response = client.generic("PATCH", "/api/v1/organization/", bomb, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error: the document is nested too deeply."


def test_an_oversized_body_is_a_400_that_says_so(client, org_a):
    body = '{"name": "' + "a" * 3_000_000 + '"}'

    response = client.generic("PATCH", "/api/v1/organization/", body, content_type="application/json")

    assert response.status_code == 400
    assert "larger than the 2.5 MB" in response.json()["detail"]
    assert Organization.objects.get(pk=org_a.pk).name == org_a.name


def test_invalid_utf8_is_a_400(client):
    response = client.generic("PATCH", "/api/v1/organization/", b'{"name": "\xff"}', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("url,field", [
    ("/api/v1/members/?role=%00", "role"),
    ("/api/v1/members/?role=emperor", "role"),
    ("/api/v1/audit-events/?actor=%00", "actor"),
    ("/api/v1/audit-events/?since=yesterday", "since"),
])
def test_bad_query_parameters_name_the_parameter(client, url, field):
    response = client.get(url)

    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("body,field", [
    ({"name": "a\x00b"}, "name"),
    ({"name": "x" * 500}, "name"),
    ({"idle_logoff_minutes": 0}, "idle_logoff_minutes"),
    ({"idle_logoff_minutes": "NaN"}, "idle_logoff_minutes"),
    ({"allowed_email_domains": ["<script>.com"]}, "allowed_email_domains.0"),
    ({"allowed_email_domains": "acme.test"}, "allowed_email_domains"),
    ({"mfa_required": {"$ne": 1}}, "mfa_required"),
])
def test_bad_fields_are_refused_by_name_and_change_nothing(client, org_a, body, field):
    before = Organization.objects.filter(pk=org_a.pk).values().get()

    response = client.patch("/api/v1/organization/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Organization.objects.filter(pk=org_a.pk).values().get() == before


def test_a_forged_cursor_is_refused(client):
    response = client.get("/api/v1/audit-events/?cursor=garbage")

    assert response.status_code == 404
    assert response.json()["detail"] == "Invalid cursor"


@pytest.mark.parametrize("pk", ["99999999999999999999999", "0"])
def test_ids_out_of_range_are_plain_404s(client, pk):
    assert client.get(f"/api/v1/members/{pk}/").status_code == 404


def test_a_page_size_beyond_the_cap_is_capped(client, org_a, make_member):
    make_member(org_a)

    response = client.get("/api/v1/members/?page_size=100000000000000000000000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
