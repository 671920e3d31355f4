"""The annotations' part of a dataset version (apps/datasets/versions.py): two sections, registered from
AnnotationsConfig.ready().

- `annotations`: one row per annotation of the version's items, geometry and attributes as canonical JSON,
  sorted by (item_id, id). Model suggestions not yet accepted (review_state "proposed") are left out: a version
  is what a model trains on, and nobody has vouched for those.
- `recipe_versions`: the recipe versions those annotations pin, with their full spec, so a version's files say
  by themselves what each label and attribute meant.

When a withdrawn version is regenerated (apps/datasets/version_regeneration.py) the build hands the
`annotations` section the (id, version) of each annotation the withdrawn version held: each is written as it was
at that version, from its AnnotationRevision (append-only; `data` is the full state after each change, kept past
the annotation's deletion). One whose revision is gone is written from the annotation itself if that is still at
the same version, and otherwise left out and counted (BuildContext.note_pins).
"""

import pyarrow as pa

from apps.datasets.versions import BuildContext, canonical_json, register_version_section
from apps.recipes.models import RecipeVersion

from .models import Annotation, AnnotationRevision

ANNOTATION_SCHEMA = pa.schema([
    ("id", pa.int64()), ("item_id", pa.int64()), ("type", pa.string()), ("label", pa.string()),
    ("attributes", pa.string()), ("geometry", pa.string()), ("recipe_version_id", pa.int64()),
    ("version", pa.int64()), ("source", pa.string()), ("confidence", pa.float64()), ("z_order", pa.int64()),
    ("frame", pa.int64()), ("updated_at", pa.timestamp("us", tz="UTC")),
])
RECIPE_VERSION_SCHEMA = pa.schema([
    ("id", pa.int64()), ("recipe_id", pa.int64()), ("recipe", pa.string()), ("number", pa.int64()),
    ("checksum", pa.string()), ("spec", pa.string()), ("published_at", pa.timestamp("us", tz="UTC")),
])
_FIELDS = ("id", "item_id", "type", "label", "attributes", "geometry", "recipe_version_id", "version", "source",
           "confidence", "z_order", "frame", "updated_at")
_USED = "annotations.recipe_version_ids"
# The columns a revision's `data` holds (apps/annotations/selectors.SNAPSHOT_FIELDS).
_REVISED = ("type", "label", "attributes", "geometry", "recipe_version_id", "source", "confidence", "z_order", "frame")
PROPOSED = "proposed"
SECTION = "annotations"


class _AnnotationRows:
    def __init__(self, context: BuildContext):
        self.context = context
        self.org_id = context.org_id
        self.used = context.shared.setdefault(_USED, set())

    def rows(self, item_ids):
        pinned = None if self.context.pins is None else self.context.pins.get(SECTION)
        if pinned is not None:
            yield from self._as_pinned(item_ids, pinned)
            return
        annotations = (Annotation.objects.for_org(self.org_id).filter(item_id__in=item_ids)
                       .exclude(review_state=PROPOSED).order_by("item_id", "id").values_list(*_FIELDS))
        for values in annotations.iterator(chunk_size=5_000):
            row = dict(zip(_FIELDS, values, strict=True))
            row["attributes"] = canonical_json(row["attributes"] or {})
            row["geometry"] = canonical_json(row["geometry"])
            self.used.add(row["recipe_version_id"])
            yield row

    def _as_pinned(self, item_ids, pinned: dict[int, tuple[int, int]]):
        """The pinned annotations of these items, each as it was at its pinned version, sorted by (item_id, id)."""
        wanted = set(item_ids)
        versions = {pk: version for pk, (item_id, version) in pinned.items() if item_id in wanted}
        rows = {}
        revisions = (AnnotationRevision.objects.for_org(self.org_id).filter(item_id__in=item_ids)
                     .values_list("annotation_id", "version", "item_id", "data", "at"))
        for annotation_id, version, item_id, data, at in revisions.iterator(chunk_size=5_000):
            if versions.get(annotation_id) == version:
                rows[annotation_id] = {**{name: data.get(name) for name in _REVISED}, "id": annotation_id,
                                       "item_id": item_id, "version": version, "updated_at": at}
        if len(rows) < len(versions):  # no revision kept for some: the annotation itself, if still at that version
            current = Annotation.objects.for_org(self.org_id).filter(item_id__in=item_ids).values_list(*_FIELDS)
            for values in current.iterator(chunk_size=5_000):
                row = dict(zip(_FIELDS, values, strict=True))
                if row["id"] not in rows and versions.get(row["id"]) == row["version"]:
                    rows[row["id"]] = row
        self.context.note_pins(SECTION, restored=len(rows), missing=len(versions) - len(rows))
        for row in sorted(rows.values(), key=lambda row: (row["item_id"], row["id"])):
            row["attributes"] = canonical_json(row["attributes"] or {})
            row["geometry"] = canonical_json(row["geometry"])
            self.used.add(row["recipe_version_id"])
            yield row

    def finish(self):
        return ()


class _RecipeVersionRows:
    def __init__(self, context: BuildContext):
        self.org_id = context.org_id
        self.used = context.shared.setdefault(_USED, set())

    def rows(self, item_ids):
        return ()

    def finish(self):
        versions = (RecipeVersion.objects.for_org(self.org_id).filter(pk__in=sorted(self.used))
                    .select_related("recipe").order_by("pk"))
        for version in versions.iterator(chunk_size=100):
            yield {"id": version.pk, "recipe_id": version.recipe_id, "recipe": version.recipe.name,
                   "number": version.number, "checksum": version.checksum, "spec": canonical_json(version.spec),
                   "published_at": version.published_at}


def register() -> None:
    register_version_section(
        SECTION, schema=ANNOTATION_SCHEMA, start=_AnnotationRows, key="id", order="item_id",
        compare=("type", "label", "attributes", "geometry", "recipe_version_id", "source", "confidence", "z_order",
                 "frame"),
        count="label", pin="version",
    )
    register_version_section("recipe_versions", schema=RECIPE_VERSION_SCHEMA, start=_RecipeVersionRows,
                             compare=("checksum",))
