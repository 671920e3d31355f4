"""The tenant context skips a change to the state the connection already has, and only while that is certain: a
rollback or a new database session makes it set the state again. Proven against what PostgreSQL itself shows."""

import pytest
from django.db import connection, transaction

from apps.tenancy.context import NO_TENANT, TenantState, get_state, set_state, system_context, tenant_context
from apps.tenancy.roles import Role


class Boom(Exception):
    pass


def _database_state() -> TenantState:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.current_org', true), current_setting('app.current_user', true),"
                       " current_setting('app.rls_bypass', true)")
        org, user, bypass = cursor.fetchone()
    return TenantState(org_id=int(org) if org else None, user_id=int(user) if user else None, bypass=bypass == "on")


def _visible_memberships() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenancy_membership")
        return cursor.fetchone()[0]


@pytest.fixture
def two_tenants(org_a, org_b, make_member):
    make_member(org_a, Role.ANNOTATOR)
    make_member(org_a, Role.ANNOTATOR)
    make_member(org_b, Role.ANNOTATOR)
    return org_a, org_b


@pytest.mark.django_db
def test_setting_the_state_the_connection_already_has_costs_no_query(two_tenants, django_assert_num_queries):
    org_a, _ = two_tenants
    set_state(TenantState(org_id=org_a.pk))

    with django_assert_num_queries(0):
        previous = set_state(TenantState(org_id=org_a.pk))
        with tenant_context(org_a):
            pass
        current = get_state()

    assert previous == current == TenantState(org_id=org_a.pk) == _database_state()


@pytest.mark.django_db
def test_a_state_set_in_a_rolled_back_savepoint_is_set_again(two_tenants):
    org_a, org_b = two_tenants
    set_state(TenantState(org_id=org_a.pk))

    with pytest.raises(Boom), transaction.atomic():
        set_state(TenantState(org_id=org_b.pk))
        raise Boom  # PostgreSQL undoes the setting with the savepoint

    assert get_state() == _database_state() == TenantState(org_id=org_a.pk)
    set_state(TenantState(org_id=org_b.pk))
    assert _database_state() == TenantState(org_id=org_b.pk) and _visible_memberships() == 1


@pytest.mark.django_db
def test_commit_hooks_run_early_by_a_test_do_not_count_as_a_commit(two_tenants, django_capture_on_commit_callbacks):
    org_a, org_b = two_tenants
    set_state(TenantState(org_id=org_a.pk))

    with pytest.raises(Boom), transaction.atomic():
        with django_capture_on_commit_callbacks(execute=True):
            set_state(TenantState(org_id=org_b.pk))
        raise Boom

    set_state(TenantState(org_id=org_b.pk))
    assert _database_state() == TenantState(org_id=org_b.pk) and _visible_memberships() == 1


@pytest.mark.django_db
def test_a_system_context_ends_where_it_began_even_when_nothing_changed_inside(two_tenants):
    org_a, _ = two_tenants
    set_state(TenantState(org_id=org_a.pk, user_id=None))

    with system_context():
        assert _database_state().bypass and _visible_memberships() == 3
    assert _database_state() == TenantState(org_id=org_a.pk) and _visible_memberships() == 2


@pytest.mark.django_db(transaction=True)
def test_a_new_database_session_starts_from_no_tenant(two_tenants):
    org_a, _ = two_tenants
    set_state(TenantState(org_id=org_a.pk))
    connection.close()

    assert get_state() == NO_TENANT == _database_state()
    set_state(TenantState(org_id=org_a.pk))
    assert _database_state() == TenantState(org_id=org_a.pk) and _visible_memberships() == 2
