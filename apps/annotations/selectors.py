"""Reads of the annotations app."""

from .models import Annotation, AnnotationRevision

SNAPSHOT_FIELDS = ("type", "label", "attributes", "geometry", "z_order", "frame", "source", "review_state",
                   "confidence", "recipe_version_id")


def annotation_list(*, org, item, frame: int | None = None):
    qs = Annotation.objects.for_org(org).filter(item=item)
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
