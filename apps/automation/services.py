"""Writes of the automation app: register models and their versions, and pre-annotate items with a version."""

import hashlib
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.annotations.models import Annotation
from apps.annotations.services import Replacement, annotations_replace_many
from apps.compliance.services import audit_record, audit_record_committed
from apps.datasets.models import Item
from apps.recipes.spec import label_map as recipe_labels
from apps.storage.services import blob_delete, blob_put
from apps.tenancy.permissions import has_scope, require_scope

from . import registry
from .agreement import misses_refresh_many, suggestions_replacing
from .models import Model, ModelVersion, PreAnnotation, TaskType
from .runtime import SpecError, parse_decoder, parse_input_spec, parse_label_map
from .runtime.spec import annotation_type

logger = logging.getLogger(__name__)
MAX_ITEMS_PER_REQUEST = 1_000
ONNX_MIME = "application/onnx"


def _clean_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "A model needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "At most 200 characters."})
    return name


def model_create(*, org, actor, name: str, task_type: str, description: str = "", recipe=None) -> Model:
    require_scope(org=org, actor=actor, scope="model.manage")
    if task_type not in TaskType.values:
        raise ValidationError({"task_type": f"Must be one of {', '.join(TaskType.values)}."})
    model = Model(organization_id=org.pk, name=_clean_name(name), task_type=task_type,
                  description=description or "", recipe=recipe, created_by=actor)
    try:
        with transaction.atomic():
            model.save()
            audit_record(org=org, actor=actor, action="model.created", target=model,
                         after={"name": model.name, "task_type": task_type, "recipe_id": getattr(recipe, "pk", None)})
    except IntegrityError:
        raise ValidationError({"name": f"A model named {model.name!r} already exists."}) from None
    return model


def _check_label_map(label_map: dict[int, str], *, recipe_version, kind: str | None) -> None:
    if kind is None:  # embeddings write no annotation: no labels to map
        return
    if not label_map:
        raise ValidationError({"label_map": "Map the model's class indexes to labels of the recipe version."})
    if recipe_version is None:
        raise ValidationError({"recipe_version_id": "Name the recipe version whose labels the label map uses."})
    labels = recipe_labels(recipe_version.spec)
    errors = {}
    for index, name in label_map.items():
        label = labels.get(name)
        if label is None:
            errors[f"label_map.{index}"] = f"{name!r} is not a label of recipe version {recipe_version.number}."
        elif kind not in label["tools"]:
            errors[f"label_map.{index}"] = (f"Label {name!r} may be drawn with {', '.join(label['tools'])}; this "
                                            f"model writes {kind}.")
    if errors:
        raise ValidationError(errors)


def _refused(org, actor, model, field: str, message: str, *, filename: str, sha256: str, size: int):
    """Records the refusal (committed even though the request fails) and raises the 4xx naming the field."""
    audit_record_committed(org=org, actor=actor, action="model_version.refused", target=model,
                           metadata={"field": field, "reason": message[:500], "filename": filename[:255],
                                     "sha256": sha256, "size": size})
    raise ValidationError({field: message})


def model_version_register(*, org, actor, model: Model, file, input_spec, decoder, label_map=None,
                           recipe_version=None, notes: str = "", metrics=None,
                           max_bytes: int | None = None) -> ModelVersion:
    """Checks the uploaded ONNX file (registry.py) and its specs, stores it encrypted in the organisation's region
    and records the next version number. Anything wrong is a ValidationError naming the field; nothing is kept."""
    require_scope(org=org, actor=actor, scope="model.manage", obj=model)
    cap = registry.MAX_MODEL_BYTES if max_bytes is None else max_bytes
    filename = getattr(file, "name", "") or ""
    if getattr(file, "size", None) is not None and file.size > cap:
        _refused(org, actor, model, "file", f"The file is larger than the {cap // (1024 * 1024)} MB limit for "
                                            "models.", filename=filename, sha256="", size=file.size)
    data = file.read(cap + 1)
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        spec = parse_input_spec(input_spec)
        decoder_spec = parse_decoder(decoder, task_type=model.task_type)
        labels = parse_label_map(label_map if label_map is not None else {})
    except SpecError as exc:
        raise ValidationError({exc.path: exc.message}) from None
    if not isinstance(metrics if metrics is not None else {}, dict):
        raise ValidationError({"metrics": "Metrics are a JSON object."})
    if recipe_version is not None and model.recipe_id and recipe_version.recipe_id != model.recipe_id:
        raise ValidationError({"recipe_version_id": "This version is not of the model's recipe."})
    _check_label_map(labels, recipe_version=recipe_version, kind=annotation_type(decoder_spec))
    try:
        inspection = registry.inspect_model(data, spec=spec, decoder=decoder_spec, label_map=labels, max_bytes=cap,
                                            trial_seconds=settings.MODEL_TRIAL_SECONDS, filename=filename)
    except registry.RegistryError as exc:
        _refused(org, actor, model, exc.field, exc.message, filename=filename, sha256=sha256, size=len(data))

    blob = blob_put(org=org, stream=_BytesStream(data), mime=ONNX_MIME, max_bytes=cap)
    try:
        version = _model_version_insert(org=org, actor=actor, model=model, blob=blob, filename=filename,
                                        sha256=sha256, size=len(data), spec=spec, decoder_spec=decoder_spec,
                                        labels=labels, recipe_version=recipe_version, notes=notes, metrics=metrics,
                                        inspection=inspection)
    except BaseException:
        blob_delete(blob)  # no row points at it: nothing may stay behind
        raise
    model.latest_version_number = version.number
    return version


def _model_version_insert(*, org, actor, model, blob, filename, sha256, size, spec, decoder_spec, labels,
                          recipe_version, notes, metrics, inspection) -> ModelVersion:
    with transaction.atomic():
        locked = Model.objects.for_org(org).select_for_update().get(pk=model.pk)
        locked.latest_version_number += 1
        locked.save(update_fields=["latest_version_number"])
        version = ModelVersion.objects.create(
            organization_id=org.pk, model=locked, number=locked.latest_version_number, blob=blob,
            filename=filename[:255], sha256=sha256, size=size, input_spec=spec.as_dict(),
            decoder=decoder_spec.as_dict(), label_map={str(k): v for k, v in sorted(labels.items())},
            recipe_version=recipe_version, signature=inspection.signature, notes=(notes or "")[:10_000],
            metrics=metrics or {}, status=ModelVersion.Status.READY,
            status_message=f"Checked and trial-run on {inspection.provider}.", created_by=actor,
        )
        audit_record(org=org, actor=actor, action="model_version.registered", target=version,
                     after={"model_id": model.pk, "number": version.number, "sha256": sha256, "size": size,
                            "decoder": decoder_spec.kind, "recipe_version_id": getattr(recipe_version, "pk", None)})
    return version


class _BytesStream:
    """A seekable binary stream over bytes already in memory (blob_put reads in chunks)."""

    def __init__(self, data: bytes):
        import io

        self._io = io.BytesIO(data)

    def read(self, size=-1):
        return self._io.read(size)

    def seek(self, offset, whence=0):
        return self._io.seek(offset, whence)

    def seekable(self):
        return True


# --- pre-annotation -------------------------------------------------------------------------------------------


def _check_preannotation(*, org, actor, model_version: ModelVersion) -> None:
    if annotation_type(parse_decoder(model_version.decoder)) is None:
        raise ValidationError({"model_version": "An embedding model writes no annotations to pre-annotate with."})
    if model_version.status != ModelVersion.Status.READY:
        raise ValidationError({"model_version": "This version is not ready."})


def preannotate_request(*, org, actor, model_version: ModelVersion, item_ids) -> int:
    """Queues pre-annotation of these items on the organisation's regional gpu queue (after commit). Returns how
    many items were queued. Every item must be one the actor may annotate."""
    from .tasks import enqueue_preannotation

    require_scope(org=org, actor=actor, scope="model.manage", obj=model_version.model)
    _check_preannotation(org=org, actor=actor, model_version=model_version)
    if not isinstance(item_ids, list) or not item_ids or len(item_ids) > MAX_ITEMS_PER_REQUEST:
        raise ValidationError({"item_ids": f"A list of 1 to {MAX_ITEMS_PER_REQUEST} item ids."})
    ids = sorted({i for i in item_ids if isinstance(i, int) and not isinstance(i, bool) and i > 0})
    items = list(Item.objects.for_org(org).filter(pk__in=ids).select_related("dataset"))
    found = {item.pk for item in items}
    missing = [i for i in ids if i not in found] + [i for i in item_ids if not isinstance(i, int) or isinstance(
        i, bool) or i <= 0]
    if missing:
        raise ValidationError({"item_ids": f"No such item: {missing[0]!r}."})
    for item in items:
        if not has_scope(org=org, actor=actor, scope="annotation.change", obj=item.dataset):
            raise ValidationError({"item_ids": f"No such item: {item.pk}."})
    with transaction.atomic():
        for start in range(0, len(ids), 32):
            enqueue_preannotation(org=org, model_version_id=model_version.pk, item_ids=ids[start:start + 32],
                                  actor_id=actor.pk)
        audit_record(org=org, actor=actor, action="model.preannotation_requested", target=model_version,
                     metadata={"items": len(ids), "item_ids": ids[:100]})
    return len(ids)


def _suggestions(annotations: list[dict], model_version: ModelVersion) -> list[dict]:
    """The decoder's dicts as annotation input, pinned to the version's recipe version (a shape the annotation rules
    refuse, a self-touching outline traced from a mask say, is left out by annotations_replace_many)."""
    return [{**{k: v for k, v in annotation.items() if k != "model_version"},
             "recipe_version": model_version.recipe_version_id} for annotation in annotations]


def preannotation_replace(*, org, actor, item: Item, model_version: ModelVersion, annotations: list[dict],
                          provider: str = "") -> PreAnnotation:
    """preannotations_replace for one item."""
    return preannotations_replace(org=org, actor=actor, model_version=model_version, results=[(item, annotations)],
                                  provider=provider)[0]


def preannotations_replace(*, org, actor, model_version: ModelVersion, results, provider: str = "") \
        -> list[PreAnnotation]:
    """Replaces this model version's unaccepted suggestions on each item of a batch of (item, annotations) with its
    annotations, keyed by (item, model version): running it again leaves one set of suggestions, never two.
    Suggestions a person accepted (or changed) since are no longer a run's to replace and stay; a suggestion the
    item's rules refuse is left out rather than failing the batch. One transaction (one commit and one sealing of
    the audit chain) and a number of queries that does not grow with the batch; all or nothing, so a killed worker
    leaves no half batch. Returns the items' PreAnnotation rows, in the order given."""
    results = list(results)
    if not results:
        return []
    items = [item for item, _annotations in results]
    if len({item.pk for item in items}) != len(items):
        raise ValueError("An item is named twice in one pre-annotation batch.")
    now = timezone.now()
    with transaction.atomic():
        records = _preannotations_locked(org=org, model_version=model_version, items=items)
        previous = {item.pk: [] for item in items}
        named = {pk: record.item_id for record in records.values() for pk in record.annotation_ids}
        for annotation in Annotation.objects.for_org(org).select_for_update().filter(
                item_id__in=list(previous), layer__isnull=True, pk__in=list(named), source="model",
                review_state="proposed").order_by("id"):
            if named[annotation.pk] == annotation.item_id:
                previous[annotation.item_id].append(annotation)
        with suggestions_replacing():
            changes = annotations_replace_many(org=org, actor=actor, at=now, drop_invalid=True, replacements=[
                Replacement(item=item, delete=previous[item.pk], create=_suggestions(annotations, model_version))
                for item, annotations in results])
        for item, change in zip(items, changes, strict=True):
            record = records[item.pk]
            record.annotation_ids = [a.pk for a in change.created]
            record.provider = provider[:64]
            record.runs += 1
            record.updated_at = now
        PreAnnotation.objects.bulk_update(list(records.values()), ["annotation_ids", "provider", "runs",
                                                                   "updated_at"])
        misses_refresh_many(org=org, items=items, at=now)
    return [records[item.pk] for item in items]


def _preannotations_locked(*, org, model_version: ModelVersion, items) -> dict[int, PreAnnotation]:
    """The (item, model version) rows of these items, created where missing, locked for this transaction: in item
    order, so two batches sharing items wait for each other rather than deadlock."""
    ids = sorted(item.pk for item in items)
    PreAnnotation.objects.bulk_create([PreAnnotation(organization_id=org.pk, item_id=pk, model_version=model_version)
                                       for pk in ids], ignore_conflicts=True)
    return {record.item_id: record for record in PreAnnotation.objects.for_org(org).select_for_update().filter(
        model_version=model_version, item_id__in=ids).order_by("item_id")}


def preannotate_items(*, org, actor, model_version: ModelVersion, item_ids, predictor=None) -> dict:
    """Runs the model version over the items (batched) and replaces each item's suggestions from it. Items gone
    since the request, or without image content, are skipped. Returns counts and the provider that ran."""
    from .inference import open_image, predictor_for

    if actor is None or not has_scope(org=org, actor=actor, scope="model.manage", obj=model_version.model):
        raise PermissionDenied("The person who asked for this pre-annotation may no longer run models.")
    _check_preannotation(org=org, actor=actor, model_version=model_version)
    predictor = predictor or predictor_for(model_version)
    from apps.storage.services import blob_read_bytes

    items = list(Item.objects.for_org(org).filter(pk__in=list(item_ids)).select_related("dataset", "blob")
                 .order_by("id"))
    images, kept, skipped = [], [], []
    for item in items:
        if item.blob_id is None or not (item.mime or "").startswith("image/"):
            skipped.append(item.pk)
            continue
        try:
            images.append(open_image(blob_read_bytes(item.blob)))
            kept.append(item)
        except Exception as exc:  # an unreadable image skips that item, not the batch
            logger.warning("Pre-annotation skipped item %s: %s", item.pk, exc)
            skipped.append(item.pk)
    results = predictor.predict(images) if images else []
    preannotations_replace(org=org, actor=actor, model_version=model_version, provider=predictor.provider,
                           results=list(zip(kept, results, strict=True)))
    written = sum(len(annotations) for annotations in results)
    audit_record(org=org, actor=actor, action="model.preannotated", target=model_version,
                 metadata={"items": [i.pk for i in kept], "skipped": skipped, "annotations": written,
                           "provider": predictor.provider})
    return {"items": len(kept), "skipped": len(skipped), "annotations": written, "provider": predictor.provider}
