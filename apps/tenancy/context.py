"""The tenant context of a database connection: which organisation PostgreSQL's row-level
security lets it see.

Set per request (TenantMiddleware, the API base view), per websocket call and per Dramatiq message.
Outside any context a connection sees no tenant rows at all, so a forgotten filter returns nothing
rather than another tenant's data. `system_context()` lifts the wall for the few places that must
look across organisations (token lookup by hash, invitation lookup by token, chain verification,
operator commands) and is named loudly so reviewers notice it.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

from .ids import org_id_of


@dataclass(frozen=True)
class TenantState:
    org_id: int | None = None
    user_id: int | None = None
    bypass: bool = False


NO_TENANT = TenantState()

_SET_SQL = """
WITH prev AS MATERIALIZED (
    SELECT current_setting('app.current_org', true) AS org,
           current_setting('app.current_user', true) AS usr,
           current_setting('app.rls_bypass', true) AS bypass
)
SELECT prev.org, prev.usr, prev.bypass,
       set_config('app.current_org', %s, false),
       set_config('app.current_user', %s, false),
       set_config('app.rls_bypass', %s, false)
FROM prev
"""


def _to_int(value: str | None) -> int | None:
    return int(value) if value else None


def set_state(state: TenantState) -> TenantState:
    """Sets the connection's tenant state and returns the one it replaces."""
    if connection.vendor != "postgresql":
        previous = getattr(connection, "_dlsaas_tenant_state", NO_TENANT)
        connection._dlsaas_tenant_state = state
        return previous
    with connection.cursor() as cursor:
        cursor.execute(
            _SET_SQL,
            [
                "" if state.org_id is None else str(state.org_id),
                "" if state.user_id is None else str(state.user_id),
                "on" if state.bypass else "off",
            ],
        )
        org, usr, bypass = cursor.fetchone()[:3]
    return TenantState(org_id=_to_int(org), user_id=_to_int(usr), bypass=bypass == "on")


def get_state() -> TenantState:
    if connection.vendor != "postgresql":
        return getattr(connection, "_dlsaas_tenant_state", NO_TENANT)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.current_org', true), current_setting('app.current_user', true),"
            " current_setting('app.rls_bypass', true)"
        )
        org, usr, bypass = cursor.fetchone()
    return TenantState(org_id=_to_int(org), user_id=_to_int(usr), bypass=bypass == "on")


def activate(org=None, user=None) -> TenantState:
    return set_state(
        TenantState(
            org_id=None if org is None else org_id_of(org),
            user_id=getattr(user, "pk", None) if user is not None else None,
        )
    )


@contextmanager
def tenant_context(org, user=None):
    previous = activate(org, user)
    try:
        yield
    finally:
        set_state(previous)


@contextmanager
def system_context():
    """Sees every organisation's rows. Use only where the code itself scopes what it reads."""
    previous = set_state(TenantState(bypass=True))
    try:
        yield
    finally:
        set_state(previous)
