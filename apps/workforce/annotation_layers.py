"""What a unit of work opens in the annotations app (registered in WorkforceConfig.ready, see
apps/annotations/layers.py): its holder writes the unit's own layer while the lease lives and reads it
afterwards; a reviewer holding a review unit reads and corrects the layer under review."""

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
