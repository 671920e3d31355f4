"""Shared fixtures: two organisations, members by role, API clients.

Test bodies run with the database connection in the system context (row-level security lifted), so
factories can write any organisation's rows. Every request a test makes is scoped by the app itself,
exactly as in production: the middleware and the API base set the organisation and restore the
previous state when the request ends.
"""

import pytest
from rest_framework.test import APIClient

from apps.tenancy.context import TenantState, set_state
from apps.tenancy.roles import Role

from .factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory, make_token


def _uses_db(request) -> str | None:
    names = set(request.fixturenames)
    if "transactional_db" in names or "live_server" in names:
        return "transactional_db"
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        return "transactional_db" if marker.kwargs.get("transaction") else "db"
    if "db" in names:
        return "db"
    return None


@pytest.fixture(autouse=True)
def _system_tenant_state(request):
    fixture = _uses_db(request)
    if fixture is None:
        yield
        return
    request.getfixturevalue(fixture)
    set_state(TenantState(bypass=True))
    yield


@pytest.fixture
def org_a(db):
    return OrganizationFactory(name="Acme Vision", slug="acme")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(name="Globex Labs", slug="globex")


@pytest.fixture
def make_member(db):
    def make(org, role=Role.ANNOTATOR, **user_fields):
        return MembershipFactory(organization=org, role=role, user=UserFactory(**user_fields))

    return make


@pytest.fixture
def owner_a(org_a, make_member):
    return make_member(org_a, Role.OWNER)


@pytest.fixture
def owner_b(org_b, make_member):
    return make_member(org_b, Role.OWNER)


@pytest.fixture
def api_for():
    """An API client authenticated with a fresh bearer token of this membership."""

    def client_for(membership):
        _token, raw = make_token(membership)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return client_for


@pytest.fixture
def password():
    return PASSWORD
