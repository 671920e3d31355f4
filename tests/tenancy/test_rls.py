"""Row-level security, proven with raw SQL: the database itself hides other tenants' rows."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.tenancy.context import NO_TENANT, TenantState, set_state, tenant_context
from apps.tenancy.roles import Role


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


@pytest.fixture
def two_tenants(org_a, org_b, make_member):
    for _ in range(3):
        make_member(org_a, Role.ANNOTATOR)
    make_member(org_b, Role.ANNOTATOR)
    return org_a, org_b


def test_no_current_organisation_sees_zero_rows(two_tenants):
    set_state(NO_TENANT)

    assert count("tenancy_membership") == 0
    assert count("compliance_auditevent") == 0


def test_an_organisation_context_sees_only_its_own_rows(two_tenants):
    org_a, org_b = two_tenants

    with tenant_context(org_a):
        assert count("tenancy_membership") == 3
    with tenant_context(org_b):
        assert count("tenancy_membership") == 1


def test_writing_a_row_for_another_organisation_is_refused(two_tenants):
    org_a, org_b = two_tenants
    set_state(TenantState(org_id=org_a.pk))

    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO tenancy_membership (organization_id, user_id, role, created_at, updated_at)"
            " SELECT %s, user_id, 'owner', now(), now() FROM tenancy_membership LIMIT 1",
            [org_b.pk],
        )


def test_updates_cannot_reach_another_organisations_rows(two_tenants):
    org_a, org_b = two_tenants
    set_state(TenantState(org_id=org_a.pk))

    with connection.cursor() as c:
        c.execute("UPDATE tenancy_membership SET role = 'owner' WHERE organization_id = %s", [org_b.pk])
        assert c.rowcount == 0


def test_a_user_reads_their_own_memberships_in_every_organisation_and_nothing_else(org_a, org_b, make_member):
    from tests.factories import MembershipFactory

    mine = make_member(org_a, Role.ANNOTATOR)
    MembershipFactory(organization=org_b, user=mine.user, role=Role.REVIEWER)
    make_member(org_b, Role.OWNER)
    set_state(TenantState(user_id=mine.user_id))

    with connection.cursor() as c:
        c.execute("SELECT organization_id, user_id FROM tenancy_membership ORDER BY organization_id")
        rows = c.fetchall()

    assert rows == [(org_a.pk, mine.user_id), (org_b.pk, mine.user_id)]
