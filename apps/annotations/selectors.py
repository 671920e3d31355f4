"""Reads of the annotations app."""

from .models import Annotation, AnnotationRevision

SNAPSHOT_FIELDS = ("type", "label", "attributes", "geometry", "z_order", "frame", "layer", "source",
                   "review_state", "confidence", "recipe_version_id")


def annotation_list(*, org, item, frame: int | None = None, layer: int | None = None):
    """The item's shared annotations, or those of one layer (a unit's private draft)."""
    qs = Annotation.objects.for_org(org).filter(item=item, layer=layer)
    if frame is not None:
        qs = qs.filter(frame=frame)
    return qs.order_by("frame", "z_order", "id")


def annotation_history(*, org, annotation_id: int):
    return AnnotationRevision.objects.for_org(org).filter(annotation_id=annotation_id).select_related(
        "actor").order_by("version")


def item_annotation_history(*, org, item):
    return AnnotationRevision.objects.for_org(org).filter(item=item).select_related("actor").order_by("-at", "-id")


def snapshot(annotation: Annotation) -> dict:
    """The state of an annotation as its revisions record it."""
    return {field: getattr(annotation, field) for field in SNAPSHOT_FIELDS}


def layer_changes_by(*, org, item, layer: int, actor, since) -> int:
    """How many changes `actor` made to one layer's annotations since `since` (revisions: a reviewer's corrections
    of the work under review)."""
    return AnnotationRevision.objects.for_org(org).filter(item=item, actor=actor, at__gte=since,
                                                          data__layer=layer).count()


def layer_contents(*, org, item, layer: int | None) -> list[dict]:
    """The annotations of one layer as plain dicts (type, label, attributes, geometry, frame), for scoring."""
    return list(Annotation.objects.for_org(org).filter(item=item, layer=layer).exclude(review_state="proposed")
                .values("type", "label", "attributes", "geometry", "frame"))
