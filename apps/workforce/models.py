"""Tasks, their members, the units of work (WorkItem) with their state machine, and the append-only work log.

The invariants that matter most are the database's, not the code's:
- one row per (task, item, stage, slot): a unit exists once;
- a unit has one assignee column, and a person holds at most one leased unit of a task at a time;
- the consensus slots of one item go to distinct people (unique (task, item, stage, assignee));
- a review unit's reviewer is never the annotator whose work it reviews (a CHECK constraint).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel


class Task(TenantOwnedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"

    class Distribution(models.TextChoices):
        PULL = "pull", "Pull (annotators take the next unit)"
        PUSH = "push", "Push (units pre-assigned by workload weight)"

    name = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.PROTECT, related_name="+")
    recipe_version = models.ForeignKey("recipes.RecipeVersion", on_delete=models.PROTECT, related_name="+")
    query = models.JSONField(default=dict, blank=True, help_text="The item filter (query language).")
    live = models.BooleanField(default=False, help_text="New items that match the query join the task.")
    live_cursor = models.BigIntegerField(default=0, help_text="Items up to this id have been considered (live).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    distribution = models.CharField(max_length=8, choices=Distribution.choices, default=Distribution.PULL)
    consensus = models.PositiveSmallIntegerField(default=1, help_text="Distinct annotators per item.")
    consensus_threshold = models.FloatField(default=0.8, help_text="Agreement at or above which an item's "
                                                                   "consensus work is merged without review.")
    review_ratio = models.FloatField(default=0.0, help_text="Share of submitted units sampled for review.")
    honeypot_rate = models.FloatField(default=0.0, help_text="Share of served units that are gold items.")
    qualification = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      help_text="A training task whose pass grants entry.")
    is_training = models.BooleanField(default=False)
    pass_threshold = models.FloatField(default=0.8)
    priority = models.IntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    annotator_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Most units one annotator may do.")
    lease_seconds = models.PositiveIntegerField(default=15 * 60)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="task_name_unique_in_org"),
            models.CheckConstraint(condition=Q(consensus__gte=1, consensus__lte=10), name="task_consensus_range"),
            models.CheckConstraint(condition=Q(review_ratio__gte=0, review_ratio__lte=1), name="task_review_ratio"),
            models.CheckConstraint(condition=Q(honeypot_rate__gte=0, honeypot_rate__lt=1), name="task_honeypot"),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30), name="task_lease_min"),
        ]
        permissions = [("work_on_task", "Can work on this task")]

    def __str__(self) -> str:
        return self.name


class TaskMember(TenantOwnedModel):
    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        REVIEWER = "reviewer", "Reviewer"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        REMOVED = "removed", "Removed"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices)
    weight = models.FloatField(default=1.0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    added_at = models.DateTimeField(default=timezone.now)
    # What this person is paid per active hour on this task (performance reports: cost = rate x active time).
    hourly_rate = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="", help_text="ISO 4217 code, e.g. EUR.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "user", "role"], name="taskmember_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0, weight__lte=100), name="taskmember_weight_range"),
            models.CheckConstraint(
                condition=Q(hourly_rate__isnull=True) | Q(hourly_rate__gte=0, currency__regex=r"^[A-Z]{3}$"),
                name="taskmember_rate_has_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} on {self.task_id}"


class WorkItem(TenantOwnedModel):
    """One (item, stage, person) unit of work. States (DESIGN.md): queued -> leased -> submitted ->
    in_review -> approved | rejected -> (rework: leased again by its annotator) ...; `done` when nothing follows."""

    class Stage(models.TextChoices):
        ANNOTATE = "annotate", "Annotate"
        REVIEW = "review", "Review"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        LEASED = "leased", "Leased"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="work_items", db_index=False)
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+", db_index=False)
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.ANNOTATE)
    slot = models.PositiveSmallIntegerField(default=0, help_text="Consensus slot, 0 to consensus-1.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", db_index=False)
    # For a review unit: the annotator whose work is reviewed, and the unit they submitted.
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", db_index=False)
    reviews = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                db_index=False)
    priority = models.IntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    # How unsure a model is of the item, 0 to 1 (an automation pipeline's route node: low confidence, a small margin
    # between its top two classes, spread among its boxes, two model versions disagreeing). Among units of the same
    # priority and due date the most uncertain is served first; 0 when no model has looked.
    uncertainty = models.FloatField(default=0.0, db_default=0.0)
    is_gold = models.BooleanField(default=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    leased_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    active_seconds = models.FloatField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "item", "stage", "slot"], name="workitem_one_unit_per_slot"),
            # Consensus: the slots of one item go to distinct people. A gold unit may be served to the same person
            # again when they retake a training (routing.serve_gold), but never twice at once.
            models.UniqueConstraint(fields=["task", "item", "stage", "assignee"],
                                    condition=Q(assignee__isnull=False, is_gold=False),
                                    name="workitem_distinct_people_per_item"),
            models.UniqueConstraint(fields=["task", "item", "stage", "assignee"],
                                    condition=Q(assignee__isnull=False, is_gold=True, state__in=["queued", "leased"]),
                                    name="workitem_one_open_gold_per_person"),
            # One leased unit per person per task: "next" resumes it rather than handing out another.
            models.UniqueConstraint(fields=["task", "assignee"], condition=Q(state="leased"),
                                    name="workitem_one_lease_per_person"),
            models.CheckConstraint(condition=~Q(state="leased") | Q(assignee__isnull=False,
                                                                    lease_expires_at__isnull=False),
                                   name="workitem_lease_has_holder"),
            models.CheckConstraint(condition=Q(stage="annotate") | ~Q(assignee=F("annotator")),
                                   name="workitem_no_self_review"),
        ]
        indexes = [
            # The pull queue: queued units of a task in serving order.
            models.Index(fields=["task", "stage", "-priority", "due_at", "-uncertainty", "id"],
                         condition=Q(state="queued"), name="workitem_queue_uncertainty"),
            models.Index(fields=["organization", "task", "state"], name="workitem_org_task_state"),
            models.Index(fields=["lease_expires_at"], condition=Q(state="leased"), name="workitem_lease_expiry"),
            models.Index(fields=["organization", "assignee", "state"], name="workitem_org_assignee"),
            models.Index(fields=["organization", "item"], name="workitem_org_item"),
        ]

    def __str__(self) -> str:
        return f"{self.stage} {self.item_id} #{self.slot} ({self.state})"

    @property
    def layer_id(self) -> int | None:
        """The annotation layer this unit works in: its own for an annotate unit (kept apart until promoted to the
        item's shared annotations), the reviewed unit's for a review unit."""
        return self.pk if self.stage == self.Stage.ANNOTATE else self.reviews_id


class WorkEvent(TenantOwnedModel):
    """Append-only log of every transition and heartbeat: what quality and performance are computed from."""

    class Kind(models.TextChoices):
        LEASED = "leased", "Leased"
        RESUMED = "resumed", "Resumed"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Lease expired"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        REASSIGNED = "reassigned", "Reassigned"
        RELEASED = "released", "Released to the queue"
        HEARTBEAT = "heartbeat", "Active time"

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False
    )
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+", db_index=False)
    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="events", db_index=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                              db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField(default=timezone.now)
    active_seconds = models.FloatField(default=0)
    wall_seconds = models.FloatField(default=0)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "task", "at"], name="workevent_org_task_at"),
            models.Index(fields=["work_item", "at"], name="workevent_unit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.work_item_id}"


class IdempotentReply(TenantOwnedModel):
    """The first answer to a request sent with an Idempotency-Key, replayed for the same key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    scope = models.CharField(max_length=200, help_text="What the key was used for, e.g. submit:123.")
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user", "key"], name="idempotentreply_key")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.status}"


class ReviewRound(TenantOwnedModel):
    """One review of an annotate unit's work: its decision and, through ReviewComment.round, what the reviewer said.
    A unit rejected, fixed and reviewed again has one round per review, numbered from 1; the studio shows the
    annotator the latest rejection's comments, the earlier rounds stay as history."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="review_rounds")
    review_unit = models.ForeignKey(WorkItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    number = models.PositiveSmallIntegerField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    corrections = models.PositiveIntegerField(default=0, help_text="Changes the reviewer made to the work's layer "
                                                                   "(each one is a revision by the reviewer).")
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["work_item", "number"], name="reviewround_number_unique")]

    def __str__(self) -> str:
        return f"round {self.number} of {self.work_item_id}: {self.decision}"


class ReviewComment(TenantOwnedModel):
    """A reviewer's comment on a unit, pinned to one annotation (or the whole item when none), in the review round
    it was written in (rows from before rounds existed were given theirs by migration 0006)."""

    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="comments")
    round = models.ForeignKey(ReviewRound, on_delete=models.CASCADE, null=True, blank=True, related_name="comments")
    annotation_id = models.BigIntegerField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.text[:50]


class GoldItem(TenantOwnedModel):
    """An item of a task with known right answers, mixed into the queue at the task's honeypot rate. `truth` is a
    snapshot of the reference annotations taken when the item was marked, so later edits cannot move the goal."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="gold_items")
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    truth = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "item"], name="golditem_unique")]

    def __str__(self) -> str:
        return f"gold {self.item_id} in {self.task_id}"


class GoldScore(TenantOwnedModel):
    """How one submitted gold unit compared with the truth."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    work_item = models.OneToOneField(WorkItem, on_delete=models.CASCADE, related_name="gold_score")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    details = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "task", "user"], name="goldscore_org_task_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.score:.2f}"


class ConsensusResult(TenantOwnedModel):
    """The agreement of an item's consensus slots once all were submitted, and what became of it."""

    class Outcome(models.TextChoices):
        MERGED = "merged", "Merged automatically"
        REVIEW = "review", "Sent to review (low agreement)"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("datasets.Item", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    pairs = models.JSONField(default=list, help_text="[{a, b, score}] per pair of units.")
    chosen = models.ForeignKey(WorkItem, on_delete=models.SET_NULL, null=True, related_name="+",
                               help_text="The unit whose work agrees most with the others.")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "item"], name="consensusresult_unique")]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.score:.2f} {self.outcome}"


class Qualification(TenantOwnedModel):
    """A person's result on a training task: passing opens the tasks that require it."""

    training_task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    passed = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="When a quality threshold last required "
                                      "requalification: the training is served again and only gold work done "
                                      "since counts.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["training_task", "user"], name="qualification_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {'passed' if self.passed else 'failed'} {self.training_task_id}"
