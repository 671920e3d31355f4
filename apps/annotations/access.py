"""Fetch and authorise one annotation; access follows its dataset. Missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Annotation, LabelMigrationRun


def access_annotation(*, org, actor, annotation_id, scope: str = "annotation.view") -> Annotation:
    pk = parse_id(annotation_id)
    annotation = (Annotation.objects.for_org(org).select_related("item", "item__dataset", "recipe_version")
                  .filter(pk=pk).first() if pk else None)
    if annotation is None or not has_scope(org=org, actor=actor, scope=scope, obj=annotation.item.dataset):
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
