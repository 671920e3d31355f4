"""Moving annotations onto a newly published recipe version: preview, start, and the batched background run.

Annotations pinned to any older version of the recipe follow every migration map between their version and the
target, in order (v2's map, then v3's, ...). A run works in batches: each batch picks annotations still pinned to
an older version, so a redelivered message or a worker killed mid-run resumes where it stopped and never applies a
map twice. Attributes the new label does not define are dropped (the previous revision keeps them); geometry is
kept as drawn.
"""

from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.core.events import broadcast_on_commit
from apps.recipes.migration_map import DELETE, LabelMigration
from apps.recipes.models import Recipe, RecipeVersion
from apps.recipes.spec import label_map
from apps.tenancy.permissions import require_scope

from .models import Annotation, AnnotationRevision, LabelMigrationRun
from .selectors import SNAPSHOT_FIELDS, snapshot

BATCH = 2_000


class _Chain:
    """The maps from each older version of a recipe to the target, composed per starting version."""

    def __init__(self, recipe: Recipe, target: RecipeVersion):
        versions = list(RecipeVersion.objects.for_org(recipe.organization_id).filter(
            recipe=recipe, number__lte=target.number).order_by("number"))
        self.target = target
        self.numbers = {v.pk: v.number for v in versions}
        self.maps = {v.number: LabelMigration.compile(v.migration) for v in versions}
        self.target_labels = label_map(target.spec)

    def follow(self, version_id: int, label: str, attributes: dict):
        """The label at the target version, or DELETE."""
        for number in range(self.numbers[version_id] + 1, self.target.number + 1):
            label = self.maps[number].target(label, attributes)
            if label is DELETE:
                return DELETE
        return label

    def attributes_for(self, label: str, kind: str, attributes: dict) -> dict:
        spec_label = self.target_labels.get(label, {})
        allowed = {a["name"] for a in spec_label.get("attributes", [])}
        if kind == "classification":
            allowed |= {a["name"] for a in self.target.spec.get("attributes", [])}
        return {k: v for k, v in (attributes or {}).items() if k in allowed}


def _older(org, recipe: Recipe, target: RecipeVersion):
    return Annotation.objects.for_org(org).filter(recipe_version__recipe=recipe,
                                                  recipe_version__number__lt=target.number)


def label_migration_preview(*, org, recipe: Recipe, target: RecipeVersion) -> dict:
    """What moving to `target` would change, from grouped counts (no row is read one by one)."""
    chain = _Chain(recipe, target)
    split_attributes = {op["from"]: op["attribute"] for m in chain.maps.values() for op in m.ops
                        if op["op"] == "split"}
    relabel, deleted, unchanged, total = Counter(), Counter(), 0, 0
    groups = _older(org, recipe, target).values("recipe_version_id", "label").annotate(n=Count("id"))
    for group in groups:
        label, n = group["label"], group["n"]
        if label in split_attributes:
            attr = split_attributes[label]
            by_value = (_older(org, recipe, target).filter(recipe_version_id=group["recipe_version_id"], label=label)
                        .values(f"attributes__{attr}").annotate(n=Count("id")))
            outcomes = [(chain.follow(group["recipe_version_id"], label, {attr: row[f"attributes__{attr}"]}),
                         row["n"]) for row in by_value]
        else:
            outcomes = [(chain.follow(group["recipe_version_id"], label, {}), n)]
        for new_label, count in outcomes:
            total += count
            if new_label is DELETE:
                deleted[label] += count
            elif new_label != label:
                relabel[(label, new_label)] += count
            else:
                unchanged += count
    return {
        "to_version": target.number, "total": total, "unchanged": unchanged,
        "relabel": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(relabel.items())],
        "delete": [{"label": a, "count": n} for a, n in sorted(deleted.items())],
    }


def label_migration_start(*, org, actor, recipe: Recipe, target: RecipeVersion) -> LabelMigrationRun:
    from . import tasks

    require_scope(org=org, actor=actor, scope="recipe.manage", obj=recipe)
    if target.recipe_id != recipe.pk:
        raise ValidationError({"to_version": "That version belongs to another recipe."})
    if LabelMigrationRun.objects.for_org(org).filter(
            recipe=recipe, status__in=[LabelMigrationRun.Status.QUEUED, LabelMigrationRun.Status.RUNNING]).exists():
        raise ValidationError({"recipe": "A migration of this recipe is already running."})
    preview = label_migration_preview(org=org, recipe=recipe, target=target)
    with transaction.atomic():
        run = LabelMigrationRun.objects.create(organization_id=org.pk, recipe=recipe, to_version=target,
                                               preview=preview, total=preview["total"], created_by=actor)
        audit_record(org=org, actor=actor, action="recipe.migration_started", target=run,
                     target_label=f"{recipe.name} -> v{target.number}", metadata={"preview": preview})
        tasks.enqueue_label_migration(org.pk, run.pk)
    return run


def label_migration_batch(*, run: LabelMigrationRun) -> bool:
    """Migrates one batch; True while annotations remain. Safe to run again after a crash or redelivery."""
    if run.status in (LabelMigrationRun.Status.DONE, LabelMigrationRun.Status.FAILED):
        return False
    org = run.organization
    chain = _Chain(run.recipe, run.to_version)
    now = timezone.now()
    with transaction.atomic():
        if run.status == LabelMigrationRun.Status.QUEUED:
            LabelMigrationRun.objects.for_org(org).filter(pk=run.pk).update(
                status=LabelMigrationRun.Status.RUNNING, started_at=now)
        rows = list(_older(org, run.recipe, run.to_version).select_for_update(skip_locked=True)
                    .order_by("id")[:BATCH])
        revisions, deleted, relabelled = [], [], 0
        for annotation in rows:
            before = snapshot(annotation)
            new_label = chain.follow(annotation.recipe_version_id, annotation.label, annotation.attributes)
            annotation.version += 1
            if new_label is DELETE:
                deleted.append(annotation.pk)
                revisions.append(_revision(annotation, AnnotationRevision.Action.DELETED, run, before, [], now))
                continue
            annotation.label = new_label
            annotation.attributes = chain.attributes_for(new_label, annotation.type, annotation.attributes)
            annotation.recipe_version = run.to_version
            annotation.updated_at = now
            after = snapshot(annotation)
            changed = [f for f in SNAPSHOT_FIELDS if before[f] != after[f]]
            relabelled += before["label"] != new_label
            revisions.append(_revision(annotation, AnnotationRevision.Action.MIGRATED, run, after, changed, now))
        kept = [a for a in rows if a.pk not in set(deleted)]
        Annotation.objects.bulk_update(kept, ["label", "attributes", "recipe_version", "version", "updated_at"])
        Annotation.objects.for_org(org).filter(pk__in=deleted).delete()
        AnnotationRevision.objects.bulk_create(revisions)
        LabelMigrationRun.objects.for_org(org).filter(pk=run.pk).update(
            processed=F("processed") + len(rows), relabelled=F("relabelled") + relabelled,
            deleted=F("deleted") + len(deleted))
        more = len(rows) == BATCH
        if not more:
            LabelMigrationRun.objects.for_org(org).filter(pk=run.pk).update(
                status=LabelMigrationRun.Status.DONE, finished_at=now)
            run.refresh_from_db()
            audit_record(org=org, actor=run.created_by, action="recipe.migration_applied", target=run,
                         target_label=f"{run.recipe.name} -> v{run.to_version.number}",
                         after={"processed": run.processed, "relabelled": run.relabelled, "deleted": run.deleted})
        else:
            run.refresh_from_db()
        broadcast_on_commit(org=org, topic="recipes", event="migration.progress",
                            data={"run_id": run.pk, "status": run.status, "processed": run.processed,
                                  "total": run.total})
    return more


def _revision(annotation, action, run, data, changed, now) -> AnnotationRevision:
    return AnnotationRevision(
        organization_id=annotation.organization_id, item_id=annotation.item_id, annotation_id=annotation.pk,
        version=annotation.version, action=action, data=data, changed=changed, actor_id=run.created_by_id,
        request_id=f"label-migration-{run.pk}", at=now,
    )


def label_migration_get(*, org_id: int, run_id: int) -> LabelMigrationRun | None:
    return (LabelMigrationRun.objects.for_org(org_id).select_related("recipe", "to_version", "organization",
                                                                     "created_by").filter(pk=run_id).first())
