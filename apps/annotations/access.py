"""Fetch and authorise one annotation; access follows its dataset. Missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .layers import may_use_annotations
from .models import Annotation, LabelMigrationRun


def access_annotation(*, org, actor, annotation_id, scope: str = "annotation.view") -> Annotation:
    pk = parse_id(annotation_id)
    annotation = (Annotation.objects.for_org(org).select_related("item", "item__dataset", "recipe_version")
                  .filter(pk=pk).first() if pk else None)
    if annotation is None or not may_use_annotations(org=org, actor=actor, item=annotation.item,
                                                      layer=annotation.layer, write=scope == "annotation.change"):
        deny_not_found(org=org, actor=actor, target_type="annotations.annotation", target_id=annotation_id,
                       scope=scope)
    return annotation


def access_label_migration(*, org, actor, run_id, scope: str = "recipe.view") -> LabelMigrationRun:
    pk = parse_id(run_id)
    run = (LabelMigrationRun.objects.for_org(org).select_related("recipe", "to_version").filter(pk=pk).first()
           if pk else None)
    if run is None or not has_scope(org=org, actor=actor, scope=scope, obj=run.recipe):
        deny_not_found(org=org, actor=actor, target_type="annotations.labelmigrationrun", target_id=run_id,
                       scope=scope)
    return run


def access_item_annotations(*, org, actor, item_id, layer=None, write: bool = False):
    """The item whose annotations (shared, or one layer) the actor may read or write; 404 otherwise."""
    from apps.datasets.models import Item

    from .layers import may_use_annotations

    pk = parse_id(item_id)
    item = Item.objects.for_org(org).select_related("dataset").filter(pk=pk).first() if pk else None
    scope = "annotation.change" if write else "annotation.view"
    if item is None or not may_use_annotations(org=org, actor=actor, item=item, layer=layer, write=write):
        deny_not_found(org=org, actor=actor, target_type="datasets.item", target_id=item_id, scope=scope)
    return item
