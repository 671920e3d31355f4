"""Evidence rows written directly (gold scores, review rounds, consensus results), at chosen times."""

from datetime import timedelta

from django.utils import timezone

from apps.workforce.models import ConsensusResult, GoldScore, ReviewRound, WorkItem


class Samples:
    def __init__(self, task):
        self.task = task
        self.now = timezone.now()
        self._units = iter(WorkItem.objects.filter(task=task, stage="annotate").order_by("id"))

    def _unit(self, user):
        unit = next(self._units)
        unit.assignee, unit.state, unit.submitted_at = user, WorkItem.State.DONE, self.now
        unit.save(update_fields=["assignee", "state", "submitted_at"])
        return unit

    def gold(self, user, score, *, hours_ago=1):
        unit = self._unit(user)
        GoldScore.objects.create(organization_id=self.task.organization_id, task=self.task, work_item=unit,
                                 user=user, score=score, at=self.now - timedelta(hours=hours_ago))
        return unit

    def review(self, user, approved, *, hours_ago=1, reviewer=None, unit=None):
        unit = unit or self._unit(user)
        number = ReviewRound.objects.filter(work_item=unit).count() + 1
        unit.state = WorkItem.State.APPROVED if approved else WorkItem.State.REJECTED
        unit.save(update_fields=["state"])
        ReviewRound.objects.create(organization_id=self.task.organization_id, work_item=unit, number=number,
                                   reviewer=reviewer, decision="approved" if approved else "rejected",
                                   decided_at=self.now - timedelta(hours=hours_ago))
        return unit

    def consensus(self, users, pair_scores, *, hours_ago=1):
        """`users` hold one slot each of a fresh item; pair_scores[(i, j)] is the agreement of slots i and j."""
        units = [self._unit(u) for u in users]
        item = units[0].item
        pairs = [{"a": units[i].pk, "b": units[j].pk, "score": s} for (i, j), s in pair_scores.items()]
        score = sum(pair_scores.values()) / len(pair_scores)
        return ConsensusResult.objects.create(
            organization_id=self.task.organization_id, task=self.task, item=item, score=score, pairs=pairs,
            chosen=units[0], outcome="merged", at=self.now - timedelta(hours=hours_ago))
