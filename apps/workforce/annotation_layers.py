"""What a unit of work opens in other apps (registered in WorkforceConfig.ready):
- in the annotations app (apps/annotations/layers.py): its holder writes the unit's own layer while the lease lives
  and reads it afterwards; a reviewer holding a review unit reads and corrects the layer under review;
- in the datasets app (apps/datasets/content_guards.py): the holder of a live unit on an item (annotating it, or
  reviewing work on it) reads that item's content, and nothing else of the dataset."""

from django.utils import timezone

from .models import WorkItem


def unit_guard(*, org, actor, item, layer, write) -> bool:
    if layer is None or getattr(actor, "pk", None) is None:
        return False
    unit = (WorkItem.objects.for_org(org).filter(item=item, assignee=actor)
            .filter(pk=layer, stage=WorkItem.Stage.ANNOTATE) | WorkItem.objects.for_org(org).filter(
        item=item, assignee=actor, stage=WorkItem.Stage.REVIEW, reviews_id=layer)).first()
    if unit is None:
        return False
    if not write:
        return True
    return unit.state == WorkItem.State.LEASED and unit.lease_expires_at > timezone.now()


def unit_layer_exists(*, org, item, layer) -> bool:
    return WorkItem.objects.for_org(org).filter(pk=layer, item=item, stage=WorkItem.Stage.ANNOTATE).exists()


def unit_content_guard(*, org, actor, item) -> str | None:
    """The caller holds a live lease on a unit of this item (an annotate unit, or a review unit of work in review):
    "work item <id>"; None otherwise (an expired lease grants nothing, even before the sweep returns it)."""
    unit_id = (WorkItem.objects.for_org(org)
               .filter(item=item, assignee=actor, state=WorkItem.State.LEASED, lease_expires_at__gt=timezone.now())
               .values_list("pk", flat=True).first())
    return f"work item {unit_id}" if unit_id is not None else None
