"""Writes of the compliance app. audit_record() is the one way an audit event is written."""

import contextvars
import ipaddress
import logging
import threading

from django.db import connection, connections, transaction

from apps.core import request_context
from apps.tenancy.base import org_id_of
from apps.tenancy.context import system_context, tenant_context

from .chain import event_hash, normalise_json
from .models import GENESIS_HASH, AuditEvent

_AUDIT_LOCK_NAMESPACE = 0x617564  # "aud"
logger = logging.getLogger(__name__)


def _actor_fields(actor, actor_label: str | None) -> dict:
    info = request_context.current()
    token_id = info.token_id if info else None
    if actor is None:
        return {"actor_type": AuditEvent.ActorType.SYSTEM, "actor_label": actor_label or "system"}
    if not getattr(actor, "is_authenticated", False):
        return {"actor_type": AuditEvent.ActorType.ANONYMOUS, "actor_label": actor_label or "anonymous"}
    return {
        "actor_type": AuditEvent.ActorType.TOKEN if token_id else AuditEvent.ActorType.USER,
        "actor_user_id": actor.pk,
        "actor_token_id": token_id,
        "actor_label": actor_label or actor.email,
    }


def _clean_ip(value: str | None) -> str | None:
    try:
        return ipaddress.ip_address(value).compressed if value else None
    except ValueError:
        return None


def _lock_chain(org_id: int | None) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_AUDIT_LOCK_NAMESPACE, org_id or 0])


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
    """Appends an event to the organisation's chain, inside the caller's transaction.

    `org` may be None for platform events. `actor` is a User, an anonymous user, or None for the
    system. Where the request came from is read from the request context.
    """
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
        target_label = target_label or str(target)[:254]
    info = request_context.current()
    org_id = None if org is None else org_id_of(org)
    event = AuditEvent(
        organization_id=org_id,
        action=action,
        target_type=target_type,
        target_id="" if target_id in (None, "") else str(target_id),
        target_label=target_label[:254],
        before=normalise_json(before),
        after=normalise_json(after),
        metadata=normalise_json(metadata or {}),
        ip=_clean_ip(info.ip if info else None),
        user_agent=(info.user_agent if info else "")[:400],
        request_id=info.request_id if info else "",
        **_actor_fields(actor, actor_label),
    )
    scope = system_context() if org_id is None else tenant_context(org_id)
    with transaction.atomic(), scope:
        _lock_chain(org_id)
        head = (
            AuditEvent.objects.filter(organization_id=org_id)
            .order_by("-sequence")
            .values_list("sequence", "hash")
            .first()
        )
        event.sequence, event.prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        event.hash = event_hash(event, event.prev_hash)
        event.save(force_insert=True)
    return event


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


def audit_chain_check(*, org_id: int):
    """Verifies the organisation's chain and appends the outcome to it (run by the worker)."""
    from .selectors import audit_chain_verify

    report = audit_chain_verify(org_id=org_id)
    audit_record(
        org=org_id, actor=None, action="audit.chain_verified" if report.ok else "audit.chain_broken",
        metadata={
            "events_checked": report.events_checked,
            "broken": str(report.broken) if report.broken else None,
        },
    )
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
        with connection.cursor() as cursor:
            # Never wait long on a lock the caller's transaction might hold.
            cursor.execute("SET lock_timeout = '2s'")
        outcome["event"] = context.run(audit_record, **kwargs)
    except Exception as exc:  # reported to the caller's thread, which records the event itself
        outcome["error"] = exc
    finally:
        connections.close_all()
