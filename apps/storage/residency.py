"""The residency wall: an organisation's bytes stay in its region, and every attempt otherwise is audited.

The audit event must outlive the caller's transaction: the refusal is raised into it, and a caller that
rolls back on the exception (any `transaction.atomic()` block it propagates through) would roll the
event back too. So, inside a transaction, the event is written on a connection of its own (a short-lived
thread: Django's connections are per thread) and committed there, before the exception is raised.
"""

import contextvars
import logging
import threading

from django.contrib.auth import get_user_model
from django.db import connection, connections

from apps.compliance.services import audit_record
from apps.tenancy.context import get_state

from .errors import ResidencyError

logger = logging.getLogger(__name__)
ACTION = "storage.residency_violation"


def residency_refused(*, org, operation: str, region: str, reason: str, blob=None) -> ResidencyError:
    """Records `storage.residency_violation` in org's chain, committed whatever the caller does next,
    and returns the ResidencyError for the caller to raise."""
    message = (
        f"Refused to {operation} data of organisation {org.slug!r} in region {region!r}: "
        f"its data stays in region {org.region!r} ({reason})."
    )
    audit_kwargs = {
        "org": org,
        "actor": _acting_user(),
        "action": ACTION,
        "metadata": {"operation": operation, "attempted_region": region, "org_region": org.region, "reason": reason},
    }
    if blob is not None:
        audit_kwargs.update(target_type="storage.blob", target_id=blob.pk, target_label=f"{blob.region}:{blob.key}")
    audit_record_committed(**audit_kwargs)
    return ResidencyError(message)


def _acting_user():
    user_id = get_state().user_id
    if user_id is None:
        return None
    return get_user_model().objects.filter(pk=user_id).first()


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
