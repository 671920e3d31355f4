from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel

GENESIS_HASH = "0" * 64


class AuditEvent(TenantOwnedModel):
    """One thing a compliance officer may ask about: who, what, when, from where.

    Append-only (a database trigger refuses UPDATE and DELETE) and hash-chained per organisation:
    each event's hash covers its own fields and the previous event's hash, so a changed, removed or
    inserted row breaks the chain at that point (`manage.py verify_audit_chain`).

    Platform events that belong to no organisation (a failed login for an unknown email) have no
    organisation and form their own chain; they are visible only to operators.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        TOKEN = "token", "API token"
        SYSTEM = "system", "System"
        ANONYMOUS = "anonymous", "Anonymous"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", null=True, editable=False
    )
    sequence = models.PositiveBigIntegerField(editable=False)
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # A plain id, not a constraint: the trail outlives the accounts it mentions.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    actor_token_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="audit_one_event_per_link"),
            models.UniqueConstraint(
                fields=["sequence"], condition=models.Q(organization__isnull=True), name="audit_platform_one_per_link"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"], name="audit_org_time"),
            models.Index(fields=["organization", "action", "-occurred_at"], name="audit_org_action_time"),
            models.Index(fields=["organization", "actor_user", "-occurred_at"], name="audit_org_actor_time"),
            models.Index(fields=["organization", "target_type", "target_id"], name="audit_org_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_type} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
