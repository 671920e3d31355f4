"""Fetch and authorise one annotation; access follows its dataset. Missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Annotation


def access_annotation(*, org, actor, annotation_id, scope: str = "annotation.view") -> Annotation:
    pk = parse_id(annotation_id)
    annotation = (Annotation.objects.for_org(org).select_related("item", "item__dataset", "recipe_version")
                  .filter(pk=pk).first() if pk else None)
    if annotation is None or not has_scope(org=org, actor=actor, scope=scope, obj=annotation.item.dataset):
        deny_not_found(org=org, actor=actor, target_type="annotations.annotation", target_id=annotation_id,
                       scope=scope)
    return annotation
