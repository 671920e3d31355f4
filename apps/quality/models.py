"""A task's quality policy: the window its annotator scores roll over, the thresholds that act on a low score, and
the record of each action taken (so that one breach is acted on once).

The scores themselves are computed on read (scores.py) from what the workforce already stores (gold scores, review
rounds, consensus results): they are always current, and there is no snapshot to invalidate when a late review or
a consensus result lands."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel

DEFAULT_WINDOW_UNITS = 50


class QualityPolicy(TenantOwnedModel):
    """How a task's annotator scores are windowed: the latest `window_units` samples, and only those of the last
    `window_days` days when set. A task without a policy uses the defaults."""

    task = models.OneToOneField("workforce.Task", on_delete=models.CASCADE, related_name="quality_policy")
    window_units = models.PositiveIntegerField(default=DEFAULT_WINDOW_UNITS)
    window_days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(window_units__gte=1, window_units__lte=10_000),
                                   name="qualitypolicy_window_units"),
            models.CheckConstraint(condition=Q(window_days__isnull=True) | Q(window_days__gte=1,
                                                                            window_days__lte=3650),
                                   name="qualitypolicy_window_days"),
        ]

    def __str__(self) -> str:
        return f"quality window of {self.task_id}: {self.window_units} units / {self.window_days or '-'} days"


class QualityThreshold(TenantOwnedModel):
    """Below `min_score` with at least `min_samples` samples in the window, `action` is taken (once per breach)."""

    class Action(models.TextChoices):
        WARN = "warn", "Warn the annotator and the managers"
        PAUSE = "pause", "Pause the annotator on this task"
        REQUALIFY = "requalify", "Require requalification (revoke the task's qualification)"

    task = models.ForeignKey("workforce.Task", on_delete=models.CASCADE, related_name="quality_thresholds")
    action = models.CharField(max_length=10, choices=Action.choices)
    min_score = models.FloatField()
    min_samples = models.PositiveIntegerField(default=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "action"], name="qualitythreshold_one_per_action"),
            models.CheckConstraint(condition=Q(min_score__gte=0, min_score__lte=1), name="qualitythreshold_score"),
            models.CheckConstraint(condition=Q(min_samples__gte=1), name="qualitythreshold_samples"),
        ]

    def __str__(self) -> str:
        return f"{self.action} below {self.min_score} ({self.min_samples}+ samples) on {self.task_id}"


class QualityAction(TenantOwnedModel):
    """One breach of a threshold by one annotator and the action taken on it. While it is open (not resolved) the
    same threshold does not act on that person again; it is resolved when their score is back at or above the
    threshold, so a later fall is a new breach."""

    threshold = models.ForeignKey(QualityThreshold, on_delete=models.CASCADE, related_name="actions")
    task = models.ForeignKey("workforce.Task", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=10, choices=QualityThreshold.Action.choices)
    score = models.FloatField()
    samples = models.PositiveIntegerField()
    acted_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["threshold", "user"], condition=Q(resolved_at__isnull=True),
                                    name="qualityaction_one_open_breach"),
        ]
        indexes = [models.Index(fields=["organization", "task", "user"], name="qualityaction_org_task_user")]

    def __str__(self) -> str:
        return f"{self.action} {self.user_id} on {self.task_id} at {self.score:.2f}"
