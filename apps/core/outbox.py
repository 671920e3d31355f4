"""The transactional outbox and the Dramatiq plumbing every actor relies on.

- `enqueue(actor, org_id, *args)` inside a transaction writes an OutboxMessage; after commit the relay
  hands it to the broker. Nothing is sent for a transaction that rolls back, and nothing is lost if
  the broker is down (the row stays pending until `manage.py outbox_relay` sends it).
- `TenantContextMiddleware` (dramatiq_middleware.py) sets the row-level-security organisation from the message for the
  length of one message, so actors are scoped like requests are.
- `@idempotent` makes a redelivered message (same id) change nothing twice.
"""

import functools
import logging

import dramatiq
from django.db import connection, transaction
from django.utils import timezone
from dramatiq.middleware import CurrentMessage

from .models import OutboxMessage, ProcessedMessage

logger = logging.getLogger(__name__)


def enqueue(actor, org_id: int | None, *args, **kwargs) -> OutboxMessage:
    """Schedules `actor(org_id, *args, **kwargs)` to be sent after the current transaction commits."""
    row = OutboxMessage.objects.create(
        organization_id=org_id,
        queue_name=actor.queue_name,
        actor_name=actor.actor_name,
        args=[org_id, *args],
        kwargs=kwargs,
    )
    transaction.on_commit(lambda: relay_pending(ids=[row.id]))
    return row


def _to_message(row: OutboxMessage) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        args=tuple(row.args),
        kwargs=row.kwargs,
        options={"org_id": row.organization_id},
        message_id=str(row.id),
    )


def relay_pending(*, ids=None, limit: int = 500, broker=None) -> int:
    """Sends pending outbox rows to the broker; returns how many were sent.

    Rows are locked with SKIP LOCKED, so several relays never send the same row at once. A broker
    error stops the batch and leaves the rows pending with the error recorded.
    """
    broker = broker or dramatiq.get_broker()
    sent = 0
    with transaction.atomic():
        rows = OutboxMessage.objects.select_for_update(skip_locked=True).filter(sent_at__isnull=True)
        if ids is not None:
            rows = rows.filter(id__in=ids)
        for row in rows.order_by("created_at")[:limit]:
            try:
                broker.enqueue(_to_message(row))
            except Exception as exc:  # the broker is down or refused: keep the row, say why
                logger.warning("Outbox relay could not send %s: %s", row.id, exc)
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                row.save(update_fields=["attempts", "last_error"])
                break
            row.attempts += 1
            row.sent_at = timezone.now()
            row.last_error = ""
            row.save(update_fields=["attempts", "sent_at", "last_error"])
            sent += 1
    return sent


def _claim(message) -> bool:
    """Records the message id inside the current transaction; False when it was already processed.

    A concurrent delivery of the same id waits on the primary key until the first one commits (then
    finds it claimed) or rolls back (then claims it itself), so the work is done exactly once.
    """
    table = ProcessedMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (message_id, actor_name, processed_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            [message.message_id, message.actor_name, timezone.now()],
        )
        return cursor.fetchone() is not None


def idempotent(fn):
    """Claims the message id and runs the actor body in one transaction; a redelivery is a no-op.

    If the body fails, the claim rolls back with it and Dramatiq's retry runs it again.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        message = CurrentMessage.get_current_message()
        if message is None:  # called directly (tests, shell): nothing to deduplicate against
            return fn(*args, **kwargs)
        with transaction.atomic():
            if not _claim(message):
                logger.info("Skipping message %s: already processed", message.message_id)
                return None
            return fn(*args, **kwargs)

    return wrapper
