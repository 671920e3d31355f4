"""The tenant context of a database connection: which organisation PostgreSQL's row-level
security lets it see.

Set per request (TenantMiddleware, the API base view), per websocket call and per Dramatiq message.
Outside any context a connection sees no tenant rows at all, so a forgotten filter returns nothing
rather than another tenant's data. `system_context()` lifts the wall for the few places that must
look across organisations (token lookup by hash, invitation lookup by token, chain verification,
operator commands) and is named loudly so reviewers notice it.

Setting the state costs a round trip, and a request changes it several times (the middleware, the token lookup,
the API base, the restore at the end), often to the state the connection already has. So this module remembers
what it last set on each connection and skips a change to the same state, but only while that memory is certain:
the same database session (a reconnect starts afresh), and a setting made inside a transaction counts only until
that transaction or savepoint is rolled back, which undoes it in PostgreSQL (Django's commit hooks say whether
it still stands). Change these settings through this module only; a raw `set_config` elsewhere would not be seen.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

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


class _Committed:
    """A commit hook: run by Django once the transaction that made a setting has committed (never on rollback).
    Tests that run hooks early, inside their own transaction, do not count as a commit."""

    __slots__ = ("conn", "done")

    def __init__(self, conn):
        self.conn = conn
        self.done = False

    def __call__(self):
        if not self.conn.in_atomic_block:
            self.done = True


@dataclass(frozen=True)
class _Known:
    session: object  # the DB-API connection the state was set on
    state: TenantState
    committed: _Committed | None  # None: set outside a transaction, so it stands


def _known_state(conn) -> TenantState | None:
    """The state this module last set on the connection, when it is certain to still hold; else None."""
    known = conn.__dict__.get("_dlsaas_tenant_known")
    if known is None or known.session is None or known.session is not conn.connection:
        return None
    if known.committed is None or known.committed.done:
        return known.state
    if conn.in_atomic_block and any(hook is known.committed for _sids, hook, _robust in conn.run_on_commit):
        return known.state  # the transaction (or savepoint) that set it is still open
    return None


def _remember(conn, state: TenantState) -> None:
    if conn.in_atomic_block:
        committed = _Committed(conn)
        conn.on_commit(committed)
    elif conn.get_autocommit():
        committed = None
    else:
        return  # manual transaction management: nothing to hook a rollback on, so remember nothing
    conn._dlsaas_tenant_known = _Known(session=conn.connection, state=state, committed=committed)


def set_state(state: TenantState) -> TenantState:
    """Sets the connection's tenant state and returns the one it replaces."""
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        previous = getattr(conn, "_dlsaas_tenant_state", NO_TENANT)
        conn._dlsaas_tenant_state = state
        return previous
    known = _known_state(conn)
    if known == state:
        return known
    conn._dlsaas_tenant_known = None  # unknown until the statement below has run
    with conn.cursor() as cursor:
        cursor.execute(
            _SET_SQL,
            [
                "" if state.org_id is None else str(state.org_id),
                "" if state.user_id is None else str(state.user_id),
                "on" if state.bypass else "off",
            ],
        )
        org, usr, bypass = cursor.fetchone()[:3]
    _remember(conn, state)
    return TenantState(org_id=_to_int(org), user_id=_to_int(usr), bypass=bypass == "on")


def get_state() -> TenantState:
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor != "postgresql":
        return getattr(conn, "_dlsaas_tenant_state", NO_TENANT)
    known = _known_state(conn)
    if known is not None:
        return known
    with conn.cursor() as cursor:
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
def write_context(org_id: int | None):
    """Lets the connection write rows of the organisation (None: rows of no organisation), keeping the state it has
    where that already allows it (the organisation's own context, whoever the user, or the system's): an audit event
    written inside a request costs no change of context and back."""
    conn = connections[DEFAULT_DB_ALIAS]
    known = _known_state(conn) if conn.vendor == "postgresql" else getattr(conn, "_dlsaas_tenant_state", NO_TENANT)
    if known is not None and (known.bypass or (org_id is not None and known.org_id == org_id)):
        yield
        return
    with system_context() if org_id is None else tenant_context(org_id):
        yield


@contextmanager
def system_context():
    """Sees every organisation's rows. Use only where the code itself scopes what it reads."""
    previous = set_state(TenantState(bypass=True))
    try:
        yield
    finally:
        set_state(previous)
