"""Writes of the compliance app. audit_record() is the one way an audit event is written."""

import contextlib
import contextvars
import ipaddress
import json
import logging
import threading

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models.base import ModelState

from apps.core import request_context
from apps.tenancy.base import org_id_of
from apps.tenancy.context import write_context

from .models import AuditEvent
from .sealing import schedule_seal, seal_pending

logger = logging.getLogger(__name__)


def _actor_fields(actor, actor_label: str | None, info) -> tuple:
    """(actor_type, actor_user_id, actor_token_id, actor_label)."""
    if actor is None:
        return AuditEvent.ActorType.SYSTEM, None, None, actor_label or "system"
    if not getattr(actor, "is_authenticated", False):
        return AuditEvent.ActorType.ANONYMOUS, None, None, actor_label or "anonymous"
    token_id = info.token_id if info else None
    return (AuditEvent.ActorType.TOKEN if token_id else AuditEvent.ActorType.USER, actor.pk, token_id,
            actor_label or actor.email)


def _clean_ip(value: str | None) -> str | None:
    try:
        return ipaddress.ip_address(value).compressed if value else None
    except ValueError:
        return None


def _json_text(value) -> str | None:
    """The JSON a jsonb column is given (dates, decimals and ids as strings); encoded once per event."""
    return None if value is None else json.dumps(value, cls=DjangoJSONEncoder)


def audit_record(
    *,
    org,
    actor,
    action: str,
    target=None,
    target_type: str = "",
    target_id="",
    target_label: str = "",
    before: dict | None = None,
    after: dict | None = None,
    metadata: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Appends an event to the organisation's audit trail, inside the caller's transaction.

    Takes no lock: the event is chained by the sealer once the transaction commits (apps/compliance/sealing.py).
    `org` may be None for platform events. `actor` is a User, an anonymous user, or None for the
    system. Where the request came from is read from the request context.
    """
    org_id = None if org is None else org_id_of(org)
    event, params = _event(org_id=org_id, actor=actor, action=action, target=target, target_type=target_type,
                           target_id=target_id, target_label=target_label, before=before, after=after,
                           metadata=metadata, actor_label=actor_label)
    # No savepoint of its own: an event that cannot be written fails the caller's whole transaction anyway, and
    # inside a request the savepoint would cost two round trips on every audited write. Outside any transaction
    # the one INSERT (its queueing trigger included) commits by itself on PostgreSQL: no BEGIN and COMMIT either.
    conn = connections[DEFAULT_DB_ALIAS]
    alone = conn.vendor == "postgresql" and not conn.in_atomic_block
    with contextlib.nullcontext() if alone else transaction.atomic(savepoint=False), write_context(org_id):
        _insert(conn, event, params)
        schedule_seal(org_id, conn)
    return event


def audit_record_many(*, org, actor, events: list[dict]) -> list[AuditEvent]:
    """audit_record() for several events of one organisation and actor (each a dict of audit_record's other
    arguments), written with one multi-row INSERT: a batch write's one event per object it changed."""
    if not events:
        return []
    org_id = None if org is None else org_id_of(org)
    built = [_event(org_id=org_id, actor=actor, **event) for event in events]
    rows = [row for row, _params in built]
    conn = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(savepoint=False), write_context(org_id):
        if conn.vendor != "postgresql":
            for row in rows:
                row.save(force_insert=True)
        else:
            with conn.cursor() as cursor:
                cursor.execute(_INSERT_MANY_SQL + ", ".join([_INSERT_ROW] * len(rows)) + " RETURNING id",
                               [value for _row, params in built for value in params])
                for row, (pk,) in zip(rows, sorted(cursor.fetchall()), strict=True):
                    _saved(row, pk, conn.alias)
        schedule_seal(org_id)
    return rows


def _event(*, org_id, actor, action: str, target=None, target_type: str = "", target_id="", target_label: str = "",
           before: dict | None = None, after: dict | None = None, metadata: dict | None = None,
           actor_label: str | None = None) -> tuple[AuditEvent, list]:
    """The event, as the model instance audit_record() returns and as the INSERT's parameters (_INSERTED order)."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        target_label = target_label or str(target)[:254]
    info = request_context.current()
    metadata = request_context.audit_metadata(org_id=org_id, actor=actor, metadata=metadata)  # e.g. break-glass
    actor_type, actor_user_id, actor_token_id, actor_label = _actor_fields(actor, actor_label, info)
    texts = (_json_text(before), _json_text(after), _json_text(metadata or {}))
    params = [org_id, _OCCURRED_AT.get_default(), actor_type, actor_user_id, actor_token_id, actor_label, action,
              target_type, "" if target_id in (None, "") else str(target_id), target_label[:254], *texts,
              _clean_ip(info.ip if info else None), (info.user_agent if info else "")[:400],
              info.request_id if info else ""]
    # The instance as unpickling makes one (no __init__: a fifth of audit_record's own time), with what a JSON column
    # gives back from the text that is stored; the generated column is left to load when read.
    decoded = [None if text is None else json.loads(text) for text in texts]
    event = AuditEvent.__new__(AuditEvent)
    event.__dict__.update(zip(_STORED, (None, *params[:_JSON_AT], *decoded, *params[_JSON_AT + 3:]), strict=True))
    event._state = ModelState()
    return event, params


_INSERTED = ("organization_id", "occurred_at", "actor_type", "actor_user_id", "actor_token_id", "actor_label",
             "action", "target_type", "target_id", "target_label", "before", "after", "metadata", "ip", "user_agent",
             "request_id")
_JSON_AT = _INSERTED.index("before")  # then after, metadata
_OCCURRED_AT = AuditEvent._meta.get_field("occurred_at")  # its default says when
_STORED = ("id", *_INSERTED)  # every field of the model but the generated one
# _event() builds the model from the INSERT's parameters: they must name every stored field.
if tuple(field.attname for field in AuditEvent._meta.concrete_fields) != (*_STORED, "metadata_dataset_id"):
    raise ImproperlyConfigured("AuditEvent's fields changed: update _INSERTED and _event() in compliance.services")
_INSERT_SQL = (
    f"INSERT INTO compliance_auditevent ({', '.join(_INSERTED)}) VALUES "
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s::inet, %s, %s) RETURNING id"
)
_INSERT_MANY_SQL = _INSERT_SQL.split(" VALUES ")[0] + " VALUES "
_INSERT_ROW = _INSERT_SQL.split(" VALUES ")[1].removesuffix(" RETURNING id")


def _saved(event: AuditEvent, pk: int, alias: str) -> None:
    event.pk = pk
    event._state.adding, event._state.db = False, alias


def _insert(conn, event: AuditEvent, params: list) -> None:
    """One INSERT on PostgreSQL, without the model layer's per-save work (the hottest write of the product: every
    audited action makes one); the ORM elsewhere.

    Where nothing watches the queries (no DEBUG or captured queries, no execute wrapper), on a psycopg cursor the
    connection keeps for it, parameters bound by the server and the statement prepared once per session (unless
    AUDIT_PREPARED_INSERT is off, as behind a transaction pooler): Django's cursor layers cost as much Python as the
    rest of audit_record, and parsing and planning the INSERT each time a third of the server's time for it
    (bench/audit_chain.py)."""
    if conn.vendor != "postgresql":
        event.save(force_insert=True)
        return
    if conn.queries_logged or conn.execute_wrappers:
        with conn.cursor() as cursor:
            cursor.execute(_INSERT_SQL, params)
            _saved(event, cursor.fetchone()[0], conn.alias)
        return
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    conn.validate_thread_sharing()
    conn.validate_no_broken_transaction()
    with conn.wrap_database_errors:
        cursor = _audit_cursor(conn)
        if settings.AUDIT_PREPARED_INSERT:
            _execute_prepared(cursor, _INSERT_SQL, params)
        else:
            cursor.execute(_INSERT_SQL, params)
        _saved(event, cursor.fetchone()[0], conn.alias)


def _execute_prepared(cursor: psycopg.Cursor, sql: str, params: list) -> None:
    """Executes `sql` as a statement prepared once per session. Django turns psycopg's prepared statements off on its
    connections (prepare_threshold None), which makes psycopg ignore prepare=True too: lifted for this one call, with
    a threshold no other statement reaches. psycopg itself forgets (and deallocates) what it prepared on a rollback
    and prepares again on the next call; a savepoint's rollback keeps it, as PostgreSQL does."""
    connection = cursor.connection
    threshold = connection.prepare_threshold
    if threshold is None:
        connection.prepare_threshold = _ONLY_WHEN_ASKED
    try:
        cursor.execute(sql, params, prepare=True)
    finally:
        connection.prepare_threshold = threshold


_ONLY_WHEN_ASKED = 2**31 - 1


def _audit_cursor(conn) -> psycopg.Cursor:
    """The psycopg cursor kept on the Django connection for the audit INSERT, made again after a reconnect."""
    cursor = conn.__dict__.get("_dlsaas_audit_cursor")
    if cursor is None or cursor.closed or cursor.connection is not conn.connection:
        cursor = conn._dlsaas_audit_cursor = psycopg.Cursor(conn.connection)
    return cursor


def audit_denied(*, org, actor, reason: str, target_type: str = "", target_id="", metadata=None) -> AuditEvent:
    """A refused attempt: another tenant's id, a missing scope, a locked account."""
    return audit_record(
        org=org,
        actor=actor,
        action="access.denied",
        target_type=target_type,
        target_id=target_id,
        metadata={"reason": reason, **(metadata or {})},
    )


def audit_chain_seal_and_verify(*, org_id: int | None = None, all_orgs: bool = False):
    """Seals what is waiting, then verifies: the report covers every event committed before the call."""
    from .sealing import chains_awaiting_seal
    from .selectors import audit_chain_verify

    for chain in chains_awaiting_seal() if all_orgs else [org_id]:
        seal_pending(chain)
    return audit_chain_verify(org_id=org_id, all_orgs=all_orgs)


def audit_chain_check(*, org_id: int):
    """Verifies the organisation's chain and appends the outcome to it (run by the worker, on demand and daily).
    A broken chain also alerts the owners and compliance officers watching the audit topic at once."""
    from apps.core.events import broadcast_on_commit

    report = audit_chain_seal_and_verify(org_id=org_id)
    with transaction.atomic():
        audit_record(
            org=org_id, actor=None, action="audit.chain_verified" if report.ok else "audit.chain_broken",
            metadata={
                "events_checked": report.events_checked,
                "broken": str(report.broken) if report.broken else None,
            },
        )
        if not report.ok:
            broadcast_on_commit(org=org_id, topic="audit", event="audit.chain_broken",
                                data={"sequence": report.broken.sequence, "reason": report.broken.reason,
                                      "message": str(report.broken)})
    return report


def audit_chain_verification_request(*, org, actor):
    """Asks a worker to verify the chain now; the result appears in the log as its own event."""
    from apps.core.outbox import enqueue
    from apps.tenancy.permissions import require_scope

    from .tasks import verify_audit_chain

    require_scope(org=org, actor=actor, scope="audit.view")
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="audit.verification_requested", target=org)
        return enqueue(verify_audit_chain, org_id_of(org))


def audit_record_committed(**kwargs) -> None:
    """audit_record(), committed now even when called inside a transaction that will roll back.

    Falls back to the caller's own transaction (and says so in the log) where a separate connection
    cannot write it: SQLite (one writer), or this connection already holds a chain lock or an
    uncommitted row the event depends on (the organisation itself), which the other connection would
    wait for or not see.
    """
    if not connection.in_atomic_block:
        audit_record(**kwargs)
        return
    if connection.vendor == "postgresql" and not _holds_advisory_locks():
        outcome: dict = {}
        thread = threading.Thread(
            target=_record_on_own_connection, args=(contextvars.copy_context(), kwargs, outcome),
            name="audit-outside-transaction", daemon=True,
        )
        thread.start()
        thread.join()
        if "event" in outcome:
            return
        logger.warning("Could not commit %s on its own connection (%s); recording it in the caller's transaction",
                       kwargs.get("action"), outcome.get("error"))
    else:
        logger.warning("Recording %s inside the caller's transaction: it rolls back with it", kwargs.get("action"))
    audit_record(**kwargs)


def _holds_advisory_locks() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())")
        return cursor.fetchone()[0]


def _record_on_own_connection(context: contextvars.Context, kwargs: dict, outcome: dict) -> None:
    try:
        org = kwargs.get("org")
        with connection.cursor() as cursor:
            # Never wait long on a lock the caller's transaction might hold.
            cursor.execute("SET lock_timeout = '2s'")
            if org is not None:
                # The audit tables hold the organisation as a plain id (no constraint would refuse it): an
                # organisation made in the caller's uncommitted transaction is not there for this connection, and
                # the event must then roll back with that transaction rather than outlive it.
                cursor.execute("SELECT 1 FROM tenancy_organization WHERE id = %s", [org_id_of(org)])
                if cursor.fetchone() is None:
                    raise LookupError("its organisation is not committed yet")
        outcome["event"] = context.run(audit_record, **kwargs)
    except Exception as exc:  # reported to the caller's thread, which records the event itself
        outcome["error"] = exc
    finally:
        connections.close_all()
