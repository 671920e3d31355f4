from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel

GENESIS_HASH = "0" * 64


class MetadataDatasetId(models.Func):
    """metadata.dataset_id as a bigint (a JSON number or a string of digits), NULL otherwise: never fails an insert.

    The expression of AuditEvent.metadata_dataset_id; written per database because a generated column may only use
    immutable functions (PostgreSQL) or deterministic ones (SQLite)."""

    output_field = models.BigIntegerField()
    _PG = ("CASE WHEN (%(expressions)s ->> 'dataset_id') ~ '^[0-9]{1,18}$' "
           "THEN (%(expressions)s ->> 'dataset_id')::bigint END")
    _SQLITE_VALUE = "json_extract(%(expressions)s, '$.dataset_id')"
    _SQLITE = (
        "CASE json_type(%(expressions)s, '$.dataset_id') WHEN 'integer' THEN " + _SQLITE_VALUE +
        " WHEN 'text' THEN CASE WHEN length(" + _SQLITE_VALUE + ") BETWEEN 1 AND 18 AND " + _SQLITE_VALUE +
        " NOT GLOB '*[^0-9]*' THEN CAST(" + _SQLITE_VALUE + " AS INTEGER) END END"
    )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=self._PG, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=self._SQLITE, **extra)


class AuditEvent(TenantOwnedModel):
    """One thing a compliance officer may ask about: who, what, when, from where.

    Append-only (a database trigger refuses UPDATE and DELETE). Written in the caller's transaction
    without any lock, so audited writes never queue behind each other; a database trigger puts every new
    event on the AuditPendingSeal queue, and the sealer (apps/compliance/sealing.py) chains it moments
    later with an AuditChainLink: each link's hash covers its event's fields and the previous link's hash,
    so a changed, removed or inserted row breaks the chain at that point (`manage.py verify_audit_chain`).

    Platform events that belong to no organisation (a failed login for an unknown email) have no
    organisation and form their own chain; they are visible only to operators.
    """

    class ActorType(models.TextChoices):
        USER = "user", "User"
        TOKEN = "token", "API token"
        SYSTEM = "system", "System"
        ANONYMOUS = "anonymous", "Anonymous"

    # Plain ids, not database constraints (PROTECT still holds in Django), and no index of their own: a constraint
    # makes every commit lock the organisation's row FOR KEY SHARE, which under concurrent writers of one
    # organisation turns into a multixact per commit on the hottest write of the product (bench/audit_chain.py);
    # row-level security already ties each row to the organisation that wrote it. The (organisation, ...) indexes
    # below serve every search.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", null=True, editable=False,
        db_constraint=False, db_index=False,
    )
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # A plain id, not a constraint: the trail outlives the accounts it mentions.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+",
        db_index=False,
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
    # The dataset an event is about (metadata.dataset_id), as a plain column so that an index serves the search by
    # dataset under row-level security (an expression index on metadata ->> 'dataset_id' cannot be used there:
    # the operator is not leakproof). Derived, so not part of the hash chain (chain.EVENT_COLUMNS).
    metadata_dataset_id = models.GeneratedField(
        expression=MetadataDatasetId("metadata"), output_field=models.BigIntegerField(null=True), db_persist=True,
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "metadata_dataset_id", "-occurred_at"], name="audit_org_dataset_time"),
            models.Index(fields=["organization", "ip", "-occurred_at"], name="audit_org_ip_time"),
            models.Index(fields=["organization", "-occurred_at"], name="audit_org_time"),
            models.Index(fields=["organization", "action", "-occurred_at"], name="audit_org_action_time"),
            models.Index(fields=["organization", "actor_user", "-occurred_at"], name="audit_org_actor_time"),
            models.Index(fields=["organization", "target_type", "target_id"], name="audit_org_target"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_type} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class AuditChainLink(TenantOwnedModel):
    """The seal of one event: its place in its organisation's chain and the hash that ties it to the one before.

    Append-only like the events. Sealed in batches by one sealer per chain at a time (apps/compliance/sealing.py);
    the chain's order is the order of sealing, which may differ from the events' ids when transactions commit out
    of order.
    """

    # Indexed by the (organisation, sequence) constraint below. Plain ids, as on AuditEvent: the verification
    # reports a link whose event is missing, and the append-only triggers refuse deleting either.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", null=True, editable=False, db_index=False,
        db_constraint=False,
    )
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="link", editable=False,
                                 db_constraint=False)
    sequence = models.PositiveBigIntegerField(editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)
    sealed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="audit_one_event_per_link"),
            models.UniqueConstraint(
                fields=["sequence"], condition=models.Q(organization__isnull=True), name="audit_platform_one_per_link"
            ),
        ]

    def __str__(self) -> str:
        return f"link {self.sequence} of {self.organization_id or 'platform'}"


class AuditPendingSeal(TenantOwnedModel):
    """An event written but not yet chained. Filled by a database trigger on every audit insert, emptied by the
    sealer in the transaction that writes the links: a queue, not a record (an event neither pending nor linked
    is reported by the verification as outside the chain)."""

    # Indexed by audit_pending_org_event below; a plain id, as on AuditEvent.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="+", null=True, editable=False, db_index=False,
        db_constraint=False,
    )
    event = models.OneToOneField(
        AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, primary_key=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["organization", "event"], name="audit_pending_org_event")]

    def __str__(self) -> str:
        return f"pending seal of event {self.event_id}"


class SubjectPseudonymSalt(TenantOwnedModel):
    """The organisation's secret salt for pseudonymous data-subject ids (apps/compliance/gdpr.py): the audit trail
    names an erased person only by sha256(salt, organisation id, subject value), which nobody without the salt can
    link back to the value by trying likely ones. One per organisation, created on first use."""

    salt = models.BinaryField(max_length=32, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="gdpr_one_salt_per_org")]

    def __str__(self) -> str:
        return f"pseudonym salt of {self.organization_id}"


def gdpr_due_date():
    from datetime import timedelta

    return timezone.now() + timedelta(days=30)


class DataSubjectRequest(TenantOwnedModel):
    """A data subject's request under GDPR: access and portability (art. 15, 20) or erasure (art. 17).

    received -> verified -> in_progress -> done, or rejected before it runs; an erasure that a legal hold refuses
    when the worker runs it is `failed` (the reason in `error`) and may be run again. Every transition is audited
    ("gdpr.*"). The subject is found through each dataset's `subject_key`; `subject_value` is the person's
    identifier under that key, blanked once an erasure is done (only `subject_pseudonym` stays).
    """

    class Kind(models.TextChoices):
        ACCESS = "access", "Access and portability"
        ERASURE = "erasure", "Erasure"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        VERIFIED = "verified", "Identity verified"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject_value = models.CharField(max_length=200, blank=True,
                                     help_text="The subject's identifier (the value of each dataset's subject_key).")
    subject_pseudonym = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=gdpr_due_date, help_text="One month after receipt (GDPR art. 12(3)).")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+", help_text="Who recorded the request.")
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    verified_at = models.DateTimeField(null=True, blank=True)
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    notes = models.TextField(blank=True, max_length=5000)
    result = models.JSONField(default=dict, blank=True, help_text="Counts and what was found or deleted.")
    # The access bundle, or the signed erasure certificate.
    result_blob = models.ForeignKey("storage.Blob", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="gdpr_request_org_created"),
            models.Index(fields=["organization", "status", "due_at"], name="gdpr_request_org_due"),
        ]

    def __str__(self) -> str:
        # Never the subject's value: this string becomes the audit event's target label.
        return f"{self.get_kind_display()} request {self.pk}"


class TransferBasis(TenantOwnedModel):
    """The recorded legal basis (GDPR chapter V) on which copies of an organisation's data may be stored in a region
    other than its own, for a bounded time. Without an active one, storage refuses every write or read outside the
    organisation's region (apps/storage/residency.py); with one, each such write is audited as `residency.transfer`
    naming this basis. Revoking it (or its expiry) closes the region again: bytes left there stay unreadable through
    the application and the residency page lists them as violations."""

    class Basis(models.TextChoices):
        ADEQUACY = "adequacy", "Adequacy decision (GDPR art. 45)"
        SCC = "scc", "Standard contractual clauses (art. 46(2)(c))"
        BCR = "bcr", "Binding corporate rules (art. 47)"
        CONSENT = "consent", "Explicit consent of the data subjects (art. 49(1)(a))"
        DEROGATION = "derogation", "Other derogation for a specific situation (art. 49)"

    destination_region = models.CharField(max_length=20)
    basis = models.CharField(max_length=12, choices=Basis.choices)
    reference = models.CharField(max_length=200, help_text="The decision, contract or consent record relied on.")
    purpose = models.TextField(max_length=2000, help_text="Why the data goes there, and what goes.")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    revoke_reason = models.TextField(blank=True, max_length=2000)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(valid_until__gt=models.F("valid_from")),
                                   name="transfer_basis_ends_after_start"),
        ]
        indexes = [models.Index(fields=["organization", "destination_region", "valid_until"],
                                name="transfer_basis_org_region")]

    def __str__(self) -> str:
        return f"{self.get_basis_display()} for region {self.destination_region}"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.valid_from <= at < self.valid_until
