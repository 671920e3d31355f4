import uuid

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A Dramatiq message written in the same transaction as the change that asks for it.

    The relay (apps/core/outbox.py) sends it to the broker after commit; if the broker is down the
    row waits and `manage.py outbox_relay` sends it later, so a broker outage loses nothing.
    Global: the relay reads across organisations; each row still names its organisation.
    """

    tenancy = "global"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization_id = models.BigIntegerField(null=True, blank=True)
    queue_name = models.CharField(max_length=100)
    actor_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], condition=models.Q(sent_at__isnull=True), name="outbox_pending_by_age"
            )
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} ({'sent' if self.sent_at else 'pending'})"


class ProcessedMessage(models.Model):
    """Message ids an idempotent actor has finished, written in the actor's own transaction."""

    tenancy = "global"

    message_id = models.CharField(max_length=64, primary_key=True)
    actor_name = models.CharField(max_length=200)
    processed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.actor_name} {self.message_id}"
