import dramatiq
import pytest
from django.test import Client
from rest_framework.throttling import UserRateThrottle

from apps.core.dramatiq_middleware import TenantContextMiddleware
from apps.tenancy.context import NO_TENANT, TenantState, get_state, set_state


def test_the_openapi_schema_describes_every_route(db):
    response = Client().get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/members/{id}/", "/api/v1/tokens/", "/api/v1/audit-events/", "/api/v1/organization/"} <= set(
        p.replace("{pk}", "{id}") for p in paths
    )
    assert response.json()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_api_docs_load_without_any_external_host(db):
    response = Client().get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    assert "https://" not in html and "http://cdn" not in html


def test_too_many_requests_get_429_problem_json(org_a, owner_a, api_for, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})
    client = api_for(owner_a)

    statuses = [client.get("/api/v1/organization/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/organization/")
    assert response["Content-Type"] == "application/problem+json"
    assert "Retry-After" in response


def test_every_response_carries_a_request_id(db):
    assert len(Client().get("/healthz")["X-Request-ID"]) == 32
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


@pytest.mark.django_db
def test_a_dramatiq_message_runs_scoped_to_its_organisation():
    middleware = TenantContextMiddleware()
    message = dramatiq.Message(queue_name="default", actor_name="x", args=(7,), kwargs={}, options={"org_id": 7})
    set_state(NO_TENANT)

    middleware.before_process_message(None, message)
    during = get_state()
    middleware.after_process_message(None, message)

    assert during == TenantState(org_id=7)
    assert get_state() == NO_TENANT


def test_the_schema_validates_without_warnings(db):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
