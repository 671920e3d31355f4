"""Writes of annotations: create, update and delete in one all-or-nothing change set per item.

Every write names the version it read; a stale one raises ConflictError (409) with the current versions, so a
second editor never silently overwrites the first. Every change appends an AnnotationRevision and the change set
is one audit event. The studio's autosave, the API's single and bulk routes and imports all come through here;
a model batch's suggestions through annotations_replace_many, the same rules for many items at once.
"""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.compliance.services import audit_denied, audit_record, audit_record_many
from apps.core import request_context
from apps.core.errors import ConflictError
from apps.core.ids import parse_id
from apps.datasets.models import Dataset, Item
from apps.recipes.models import RecipeVersion
from apps.recipes.selectors import dataset_recipe_version

from . import change_hooks
from .layers import may_use_annotations
from .models import Annotation, AnnotationRevision
from .selectors import SNAPSHOT_FIELDS, snapshot
from .validation import AnnotationInputError, SpecIndex, validate_annotation

logger = logging.getLogger(__name__)
MAX_CHANGES_PER_REQUEST = 5_000
MAX_ANNOTATIONS_PER_ITEM_FRAME = 20_000


@dataclass
class ChangeSet:
    created: list[Annotation] = field(default_factory=list)
    updated: list[Annotation] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


class _Versions:
    """Recipe versions by id (checked to belong to the organisation), each with its spec indexed once."""

    def __init__(self, org, dataset):
        self.org, self.dataset = org, dataset
        self._by_id: dict[int, tuple[RecipeVersion, SpecIndex]] = {}
        self._default = None

    def get(self, version_id=None) -> tuple[RecipeVersion, SpecIndex]:
        if version_id is None:
            if self._default is None:
                version = dataset_recipe_version(org=self.org, dataset=self.dataset)
                if version is None:
                    raise AnnotationInputError({"recipe_version": "This dataset has no published recipe: set one "
                                                                  "for the dataset or name a recipe_version."})
                self._default = version.pk
                self._by_id[version.pk] = (version, SpecIndex(version.spec))
            return self._by_id[self._default]
        pk = parse_id(version_id)
        if pk not in self._by_id:
            version = RecipeVersion.objects.for_org(self.org).filter(pk=pk).first() if pk else None
            if version is None:
                raise AnnotationInputError({"recipe_version": "No such recipe version in this organisation."})
            self._by_id[pk] = (version, SpecIndex(version.spec))
        return self._by_id[pk]


def _expect_version(raw: dict) -> int:
    value = raw.get("version")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AnnotationInputError({"version": "Name the version you are changing (optimistic concurrency)."})
    return value


def _revision(org_id, annotation: Annotation, action: str, actor, data: dict, changed: list[str], at) -> \
        AnnotationRevision:
    info = request_context.current()
    return AnnotationRevision(
        organization_id=org_id, item_id=annotation.item_id, annotation_id=annotation.pk, version=annotation.version,
        action=action, data=data, changed=changed, actor=actor if getattr(actor, "pk", None) else None,
        request_id=(info.request_id if info else "")[:64], at=at,
    )


def annotations_change(*, org, actor, item, create=(), update=(), delete=(), keyed: bool = True,
                       source_default: str | None = None, layer: int | None = None) -> ChangeSet:
    """Applies creates, updates and deletes to one item's annotations, all or nothing.

    `update` and `delete` entries carry `id` and the `version` they read. Errors are keyed
    "create.2.geometry.exterior" (or without the "create.2." prefix when `keyed` is False, for single writes).
    """
    _require_change(org=org, actor=actor, item=item, layer=layer)
    create, update, delete = list(create or []), list(update or []), list(delete or [])
    if len(create) + len(update) + len(delete) > MAX_CHANGES_PER_REQUEST:
        raise ValidationError({"non_field_errors": f"At most {MAX_CHANGES_PER_REQUEST} changes per request."})
    versions = _Versions(org, item.dataset)
    errors: dict[str, str] = {}

    def run(prefix: str, check):
        try:
            return check()
        except AnnotationInputError as exc:
            errors.update(exc.prefixed(prefix) if keyed else exc.field_errors)
            return None

    new_rows = []
    for i, raw in enumerate(create):
        checked = run(f"create.{i}", lambda raw=raw: _check_create(raw, item=item, versions=versions,
                                                                   source_default=source_default))
        if checked:
            new_rows.append(checked)

    ids = {}
    for kind, entries in (("update", update), ("delete", delete)):
        for i, raw in enumerate(entries):
            def check_ref(raw=raw):
                if not isinstance(raw, dict):
                    raise AnnotationInputError({"non_field_errors": "Name the annotation's id and version."})
                pk = parse_id(raw.get("id"))
                if pk is None:
                    raise AnnotationInputError({"id": "A valid annotation id is required."})
                return pk, _expect_version(raw)
            ref = run(f"{kind}.{i}", check_ref)
            if ref:
                if ref[0] in ids:
                    errors[f"{kind}.{i}.id" if keyed else "id"] = "This annotation is named twice in one request."
                ids[ref[0]] = (kind, i, ref[1], raw)
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    result = ChangeSet()
    with transaction.atomic():
        current = {a.pk: a for a in Annotation.objects.for_org(org).select_for_update().filter(
            item=item, layer=layer, pk__in=list(ids)).select_related("recipe_version")}
        conflicts = []
        for pk, (kind, i, expected, _raw) in ids.items():
            annotation = current.get(pk)
            if annotation is None:
                errors[f"{kind}.{i}.id" if keyed else "id"] = "No such annotation on this item."
            elif annotation.version != expected:
                conflicts.append({"id": pk, "version": annotation.version, "your_version": expected})
        if errors:
            raise ValidationError(errors)
        if conflicts:
            raise ConflictError(
                f"{len(conflicts)} annotation(s) changed since you read them: reload and apply your change again.",
                conflicts,
            )
        changed_rows = []
        for pk, (kind, i, _expected, raw) in ids.items():
            if kind != "update":
                continue
            annotation = current[pk]

            def check_update(raw=raw, annotation=annotation):
                if "recipe_version" in raw:
                    version, spec = versions.get(raw["recipe_version"])
                else:
                    version = annotation.recipe_version
                    spec = versions.get(version.pk)[1]
                before = snapshot(annotation)
                clean = validate_annotation(raw, item=item, spec=spec, partial_of=before)
                return annotation, version, before, clean
            checked = run(f"update.{i}", check_update)
            if checked:
                changed_rows.append(checked)
        if errors:
            raise ValidationError(errors)
        _check_room(Annotation.objects.for_org(org).filter(item=item, layer=layer).count() - sum(
            1 for kind, *_ in ids.values() if kind == "delete"), len(new_rows))

        before_of = {pk: snapshot(annotation) for pk, annotation in current.items()}
        result.created = _new_annotations(org, actor, item, layer, new_rows, now)
        Annotation.objects.bulk_create(result.created)
        revisions = _created_revisions(org, actor, result.created, now)

        for annotation, version, before, clean in changed_rows:
            annotation.recipe_version = version
            for name, value in clean.items():
                setattr(annotation, name, value)
            after = snapshot(annotation)
            changed = [name for name in SNAPSHOT_FIELDS if before[name] != after[name]]
            if not changed:
                result.updated.append(annotation)
                continue
            annotation.version += 1
            annotation.updated_by, annotation.updated_at = actor, now
            annotation.save(update_fields=[*clean, "recipe_version", "version", "updated_by", "updated_at"])
            revisions.append(_revision(org.pk, annotation, AnnotationRevision.Action.UPDATED, actor, after, changed,
                                       now))
            result.updated.append(annotation)

        deleted = [current[pk] for pk, (kind, *_rest) in ids.items() if kind == "delete"]
        revisions += _deletion_revisions(org, deleted, actor, now)
        result.deleted = [annotation.pk for annotation in deleted]
        if result.deleted:
            Annotation.objects.for_org(org).filter(pk__in=result.deleted).delete()
        AnnotationRevision.objects.bulk_create(revisions)
        _announce_change(org=org, actor=actor, item=item, layer=layer, at=now, revisions=revisions,
                         before_of=before_of)
        if revisions:
            audit_record(org=org, actor=actor, **_change_event(item, layer, result))
    return result


@dataclass
class Replacement:
    """One item's part of annotations_replace_many: shared annotations to delete (rows the caller read under
    select_for_update) and annotations to create (as annotations_change takes them)."""
    item: object
    delete: list[Annotation] = field(default_factory=list)
    create: list[dict] = field(default_factory=list)


def annotations_replace_many(*, org, actor, replacements: list[Replacement], drop_invalid: bool = False,
                             at=None) -> list[ChangeSet]:
    """annotations_change(item=..., delete=..., create=...) on the shared annotations of many items at once, in a
    number of queries that does not grow with the items (a model batch's suggestions): the same checks, revisions,
    change hooks and one "annotations.changed" audit event per item changed. The deletions were read and locked by
    the caller, so none can be stale. A create invalid for its recipe version fails the call (ValidationError keyed
    "<item id>.create.<i>.<field>"), or with `drop_invalid` is left out (and logged). One ChangeSet per replacement."""
    items = [r.item for r in replacements]
    _load_datasets(org, items)
    for r in replacements:
        _require_change(org=org, actor=actor, item=r.item, layer=None)
        if any(a.item_id != r.item.pk or a.layer is not None for a in r.delete):
            raise ValueError("Only the item's shared annotations can be deleted with it.")
        if len(r.create) + len(r.delete) > MAX_CHANGES_PER_REQUEST:
            raise ValidationError({"non_field_errors": f"At most {MAX_CHANGES_PER_REQUEST} changes per request."})
    versions: dict[int, _Versions] = {}
    errors: dict[str, str] = {}
    rows = []
    for r in replacements:
        if r.item.dataset_id not in versions:
            versions[r.item.dataset_id] = _Versions(org, r.item.dataset)
        item_versions = versions[r.item.dataset_id]
        rows.append([])
        for i, raw in enumerate(r.create):
            try:
                rows[-1].append(_check_create(raw, item=r.item, versions=item_versions, source_default=None))
            except AnnotationInputError as exc:
                if not drop_invalid:
                    errors.update(exc.prefixed(f"{r.item.pk}.create.{i}"))
                logger.info("Left out an annotation to create on item %s: %s", r.item.pk, exc.field_errors)
    if errors:
        raise ValidationError(errors)

    now = at or timezone.now()
    results = [ChangeSet() for _ in replacements]
    with transaction.atomic(savepoint=False):  # any error fails the whole call: nothing to roll back to inside
        counts = dict(Annotation.objects.for_org(org).filter(item_id__in=[i.pk for i in items], layer__isnull=True)
                      .order_by().values("item_id").annotate(n=Count("id")).values_list("item_id", "n"))
        for r, mine, result in zip(replacements, rows, results, strict=True):
            _check_room(counts.get(r.item.pk, 0) - len(r.delete), len(mine))
            result.created = _new_annotations(org, actor, r.item, None, mine, now)
        Annotation.objects.bulk_create([a for result in results for a in result.created])
        revisions_of, before_of = [], {}
        for r, result in zip(replacements, results, strict=True):
            before_of.update((a.pk, snapshot(a)) for a in r.delete)
            revisions_of.append(_created_revisions(org, actor, result.created, now)
                                + _deletion_revisions(org, r.delete, actor, now))
            result.deleted = [a.pk for a in r.delete]
        if before_of:
            Annotation.objects.for_org(org).filter(pk__in=list(before_of)).delete()
        AnnotationRevision.objects.bulk_create([rev for revisions in revisions_of for rev in revisions])
        for r, revisions in zip(replacements, revisions_of, strict=True):
            _announce_change(org=org, actor=actor, item=r.item, layer=None, at=now, revisions=revisions,
                             before_of=before_of)
        audit_record_many(org=org, actor=actor, events=[
            _change_event(r.item, None, result)
            for r, result, revisions in zip(replacements, results, revisions_of, strict=True) if revisions])
    return results


def _load_datasets(org, items) -> None:
    """Each item's dataset (its permissions are checked on it) read once for all, where not read already."""
    field_ = Item._meta.get_field("dataset")
    missing = {item.dataset_id for item in items if not field_.is_cached(item)}
    if not missing:
        return
    datasets = {d.pk: d for d in Dataset.objects.for_org(org).filter(pk__in=missing)}
    for item in items:
        if not field_.is_cached(item):
            item.dataset = datasets[item.dataset_id]


def _require_change(*, org, actor, item, layer) -> None:
    if not may_use_annotations(org=org, actor=actor, item=item, layer=layer, write=True):
        audit_denied(org=org, actor=actor, reason="missing scope annotation.change",
                     metadata={"scope": "annotation.change", "item_id": item.pk, "layer": layer})
        raise PermissionDenied("Your role does not allow annotation.change.")


def _check_create(raw, *, item, versions: _Versions, source_default: str | None) -> tuple[RecipeVersion, dict]:
    """One annotation to create, checked against its recipe version: (the version, the clean fields to store)."""
    if not isinstance(raw, dict):
        raise AnnotationInputError({"non_field_errors": "An annotation is a JSON object."})
    version, spec = versions.get(raw.get("recipe_version"))
    if source_default and "source" not in raw:
        raw = {**raw, "source": source_default}
    return version, validate_annotation(raw, item=item, spec=spec)


def _check_room(existing: int, created: int) -> None:
    if existing + created > MAX_ANNOTATIONS_PER_ITEM_FRAME:
        raise ValidationError({"create": f"An item holds at most {MAX_ANNOTATIONS_PER_ITEM_FRAME} annotations."})


def _new_annotations(org, actor, item, layer, rows: list[tuple[RecipeVersion, dict]], now) -> list[Annotation]:
    return [Annotation(organization_id=org.pk, item_id=item.pk, dataset_id=item.dataset_id, recipe_version=version,
                       layer=layer, created_by=actor, updated_by=actor, created_at=now, updated_at=now, **clean)
            for version, clean in rows]


def _created_revisions(org, actor, created: list[Annotation], now) -> list[AnnotationRevision]:
    return [_revision(org.pk, annotation, AnnotationRevision.Action.CREATED, actor, snapshot(annotation),
                      list(SNAPSHOT_FIELDS), now) for annotation in created]


def _deletion_revisions(org, annotations: list[Annotation], actor, now) -> list[AnnotationRevision]:
    """The deletion revisions of these (locked) annotations, each a version past the one deleted."""
    revisions = []
    for annotation in annotations:
        annotation.version += 1
        revisions.append(_revision(org.pk, annotation, AnnotationRevision.Action.DELETED, actor,
                                   snapshot(annotation), [], now))
    return revisions


def _announce_change(*, org, actor, item, layer, at, revisions, before_of: dict) -> None:
    change_hooks.annotations_changed(org=org, actor=actor, item=item, layer=layer, at=at, changes=[
        (r.annotation_id, None if r.action == AnnotationRevision.Action.CREATED else before_of[r.annotation_id],
         None if r.action == AnnotationRevision.Action.DELETED else r.data) for r in revisions])


def _change_event(item, layer, result: ChangeSet) -> dict:
    """The audit event of one item's change set (audit_record's arguments but org and actor)."""
    return {"action": "annotations.changed", "target": item,
            "metadata": {"dataset_id": item.dataset_id, "layer": layer, "created": [a.pk for a in result.created],
                         "updated": [a.pk for a in result.updated],
                         "deleted": result.deleted}}


def annotation_update(*, org, actor, annotation: Annotation, changes: dict) -> Annotation:
    changeset = annotations_change(org=org, actor=actor, item=annotation.item, layer=annotation.layer,
                                   update=[{**changes, "id": annotation.pk}], keyed=False)
    return changeset.updated[0]


def annotation_delete(*, org, actor, annotation: Annotation, version) -> None:
    annotations_change(org=org, actor=actor, item=annotation.item, layer=annotation.layer,
                       delete=[{"id": annotation.pk, "version": version}], keyed=False)


def annotations_promote_layer(*, org, actor, item, layer: int, reason: str) -> int:
    """Makes one layer's work the item's shared annotations: the shared human annotations are replaced (each
    change with its revision), model suggestions nobody accepted are left where they were. The caller (the work
    flow that approved the layer) has authorised it. Returns how many annotations were promoted."""
    now = timezone.now()
    with transaction.atomic():
        shared = list(Annotation.objects.for_org(org).select_for_update().filter(item=item, layer__isnull=True)
                      .exclude(review_state="proposed"))
        promoted = list(Annotation.objects.for_org(org).select_for_update().filter(item=item, layer=layer)
                        .exclude(review_state="proposed"))
        revisions = _delete_with_revisions(org, shared, actor, now)
        for annotation in promoted:
            annotation.layer = None
            annotation.version += 1
            annotation.updated_by, annotation.updated_at = actor, now
            revisions.append(_revision(org.pk, annotation, AnnotationRevision.Action.UPDATED, actor,
                                       snapshot(annotation), ["layer"], now))
        Annotation.objects.bulk_update(promoted, ["layer", "version", "updated_by", "updated_at"])
        AnnotationRevision.objects.bulk_create(revisions)
        audit_record(org=org, actor=actor, action="annotations.promoted", target=item,
                     metadata={"dataset_id": item.dataset_id, "layer": layer, "reason": reason,
                               "replaced": [a.pk for a in shared], "promoted": [a.pk for a in promoted]})
    return len(promoted)


def _delete_with_revisions(org, annotations: list[Annotation], actor, now) -> list[AnnotationRevision]:
    """Deletes the (locked) annotations and returns their deletion revisions, for the caller to save."""
    revisions = _deletion_revisions(org, annotations, actor, now)
    Annotation.objects.for_org(org).filter(pk__in=[a.pk for a in annotations]).delete()
    return revisions


def annotations_discard_layer(*, org, actor, item, layer: int, reason: str) -> int:
    """Deletes a layer's annotations (each with its revision): a unit's unfinished draft when the unit goes to
    someone else, so the next person starts clean. The caller has authorised it. Returns how many."""
    now = timezone.now()
    with transaction.atomic():
        drafts = list(Annotation.objects.for_org(org).select_for_update().filter(item=item, layer=layer))
        if not drafts:
            return 0
        revisions = _delete_with_revisions(org, drafts, actor, now)
        AnnotationRevision.objects.bulk_create(revisions)
        audit_record(org=org, actor=actor, action="annotations.draft_discarded", target=item,
                     metadata={"dataset_id": item.dataset_id, "layer": layer, "reason": reason,
                               "deleted": [a.pk for a in drafts]})
    return len(drafts)


def annotations_promote_merged(*, org, actor, item, annotations: list[dict], recipe_version, reason: str) -> int:
    """Makes a merge of several people's work (apps.quality.merge) the item's shared annotations, like
    annotations_promote_layer: the shared human annotations are replaced (each change with its revision), model
    suggestions nobody accepted are left. Each merged annotation is validated against `recipe_version` first; a bad
    one raises AnnotationInputError before anything is written. The caller (the consensus flow) has authorised it."""
    spec = SpecIndex(recipe_version.spec)
    clean = [validate_annotation(raw, item=item, spec=spec) for raw in annotations]
    now = timezone.now()
    with transaction.atomic():
        shared = list(Annotation.objects.for_org(org).select_for_update().filter(item=item, layer__isnull=True)
                      .exclude(review_state="proposed"))
        revisions = _delete_with_revisions(org, shared, actor, now)
        created = Annotation.objects.bulk_create(
            _new_annotations(org, actor, item, None, [(recipe_version, fields) for fields in clean], now))
        revisions += _created_revisions(org, actor, created, now)
        AnnotationRevision.objects.bulk_create(revisions)
        audit_record(org=org, actor=actor, action="annotations.merged", target=item,
                     metadata={"dataset_id": item.dataset_id, "reason": reason,
                               "replaced": [a.pk for a in shared], "created": [a.pk for a in created]})
    return len(created)
