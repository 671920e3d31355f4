"""What one API request reads about its caller (the token, their role) is read afresh by the next request, and the
connection ends each request in the state it began with."""

import pytest
from django.db import connection

from apps.tenancy.context import TenantState, set_state
from apps.tenancy.models import Membership
from apps.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def _database_state() -> TenantState:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.current_org', true), current_setting('app.current_user', true),"
                       " current_setting('app.rls_bypass', true)")
        org, user, bypass = cursor.fetchone()
    return TenantState(org_id=int(org) if org else None, user_id=int(user) if user else None, bypass=bypass == "on")


def test_a_role_change_applies_to_the_next_request(org_a, make_member, api_for):
    member = make_member(org_a, Role.ANNOTATOR)
    client = api_for(member)
    assert client.get("/api/v1/tasks/").status_code == 403

    Membership.objects.filter(pk=member.pk).update(role=Role.MANAGER)

    assert client.get("/api/v1/tasks/").status_code == 200


def test_a_token_of_someone_no_longer_a_member_is_refused(org_a, make_member, api_for):
    member = make_member(org_a, Role.MANAGER)
    client = api_for(member)
    assert client.get("/api/v1/tasks/").status_code == 200

    Membership.objects.filter(pk=member.pk).delete()

    assert client.get("/api/v1/tasks/").status_code == 403


def test_a_request_ends_with_the_connection_as_it_found_it(org_a, make_member, api_for):
    client = api_for(make_member(org_a, Role.MANAGER))
    set_state(TenantState(bypass=True))

    assert client.get("/api/v1/tasks/").status_code == 200
    assert _database_state() == TenantState(bypass=True)
    set_state(TenantState(org_id=org_a.pk))
    assert client.get("/api/v1/tasks/").status_code == 200
    assert _database_state() == TenantState(org_id=org_a.pk)
