"""What people do with a model version's suggestions, recorded from their saves, and the agreement that follows.

A suggestion is an annotation a version proposed (source=model, review_state=proposed, named by the version's
PreAnnotation row on the item). Every save of the item's shared annotations (annotations_change, through
apps/annotations/change_hooks.py) is read for what it did to suggestions, from the states before and after the save
and the suggestion as the model made it (its first revision), never from what the client says it did:
- made non-proposed with its type, label, attributes, geometry and frame as suggested: accepted;
- made non-proposed with any of them changed (in that save or in earlier saves while still proposed): edited, with
  the IoU of the suggested and the kept shape (OKS or distance similarity for keypoints, points and polylines) and
  whether the label or the attributes changed;
- deleted (rejected in the studio, or deleted after being accepted): rejected;
- an accepted one changed again: its row is recomputed against the suggestion; made proposed again (undo): its row
  goes, the suggestion is open again; a rejection undone (the studio creates the suggestion again, under a new id,
  with the same content) is withdrawn and the new id takes the old one's place among the version's suggestions.
One row per suggestion, so a re-save updates it rather than adding one. Suggestions nobody has resolved are *open*:
they count in no rate (they are not assumed right or wrong), only in the `open` count.

Misses, for recall: after each save, the item's people's annotations that are not this version's suggestions and
match none of its suggestions (open or rejected; label-aware, IoU >= 0.5 or the quality metrics' threshold for the
type, one-to-one with scipy's linear_sum_assignment through apps.quality.metrics.match) are the version's misses
on the item; the set is recomputed, so a shape drawn before a suggestion is accepted stops being a miss once the
suggestion is kept.

A unit of work (the queue studio) shows the item's open suggestions over the unit's private layer; accepting one
copies it into the layer, rejecting one only hides it in the page, so the server cannot tell a rejected suggestion
from an ignored one. The submitted layer is the person's answer, so outcomes are derived when the unit is submitted
(apps/workforce/unit_hooks.py), by matching, per version, the layer's annotations to the suggestions the person
was shown (one-to-one, the same label first, then any label; IoU >= the type's threshold): a matched pair is
accepted (same type, label, attributes, geometry, frame) or edited; **a suggestion left out of the submitted answer
counts as rejected**, whether the person pressed Reject or not (it is not in what they declared correct; counting
it apart would trust the page's word); a layer shape matching no suggestion is a miss. The `source` the page sends
is not trusted either: only geometry and labels decide. A unit submitted again (after a review sent it back) has
its outcomes recomputed.

A re-run of the model replacing its open suggestions (preannotations_replace) is not a person's decision and records
nothing but the misses it changes.
"""

from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
from django.db import connection

from apps.annotations.models import Annotation, AnnotationRevision
from apps.quality.metrics import match
from apps.quality.metrics.item import SHAPE_TYPES, similarity

from .models import PreAnnotation, SuggestionOutcome

CONTENT = ("type", "label", "attributes", "geometry", "frame")
Outcome = SuggestionOutcome.Outcome
_replacing: ContextVar[bool] = ContextVar("suggestions_replacing", default=False)


@contextmanager
def suggestions_replacing():
    """Within it, deletions of open suggestions are a model re-run replacing them, not people rejecting them."""
    token = _replacing.set(True)
    try:
        yield
    finally:
        _replacing.reset(token)


def _content(state: dict) -> dict:
    return {name: state.get(name) for name in CONTENT}


def _shape_similarity(suggested: dict, final: dict) -> float | None:
    kind = suggested.get("type")
    if kind != final.get("type") or kind not in SHAPE_TYPES:
        return None
    if suggested.get("geometry") is None or final.get("geometry") is None:
        return None
    sim, _threshold, _distance = similarity(kind, [suggested["geometry"]], [final["geometry"]],
                                            labels=[suggested.get("label")])
    value = float(sim[0, 0])
    return round(value, 6) if np.isfinite(value) else None


def _resolution(suggested: dict, final: dict) -> dict:
    label_changed = suggested.get("label") != final.get("label")
    attributes_changed = (suggested.get("attributes") or {}) != (final.get("attributes") or {})
    geometry_changed = (suggested.get("geometry") != final.get("geometry") or suggested.get("type") != final.get(
        "type") or (suggested.get("frame") or 0) != (final.get("frame") or 0))
    edited = label_changed or attributes_changed or geometry_changed
    return {"outcome": Outcome.EDITED if edited else Outcome.ACCEPTED,
            "iou": _shape_similarity(suggested, final) if geometry_changed else (
                1.0 if suggested.get("geometry") is not None else None),
            "label_changed": label_changed, "attributes_changed": attributes_changed,
            "geometry_changed": geometry_changed, "final": final}


def on_annotations_changed(*, org, actor, item, layer, changes, at) -> None:
    """The annotations change listener (apps/annotations/change_hooks.py): records what this save did to the
    item's suggestions and refreshes the item's misses.

    It runs inside every studio save, so its cost must not grow with the item: one query reads everything it needs
    (_shared_state), the resolutions are worked out in memory and applied to the outcome rows read, the misses are
    computed from the rows as the resolutions leave them, and what changed is written with at most one statement
    per kind (_Writes)."""
    if layer is not None or _replacing.get():
        return  # a model re-run replacing its suggestions refreshes the misses itself once it is done
    model_pks = {pk for pk, before, after in changes
                 if (before or {}).get("source") == "model" or (after or {}).get("source") == "model"}
    shared = _shared_state(org=org, item=item, suggestion_ids=model_pks)
    if not shared.records:
        return
    writes = _Writes()
    if model_pks:
        _record_resolutions(org=org, actor=actor, item=item, shared=shared, changes=changes, model_pks=model_pks,
                            at=at, writes=writes)
    _item_misses(org=org, item_id=item.pk, annotations=shared.annotations, records=shared.records,
                 outcomes=shared.outcomes, at=at, creates=writes.misses, stale=writes.delete)
    writes.apply(org)


@dataclass
class _Shared:
    """One item's agreement state on its shared annotations: its PreAnnotation rows, its outcome rows (dicts, as
    this save's resolutions leave them), the suggestions as made (first revisions) of the save's model annotations,
    and its annotations (as _shared_annotations gives them)."""
    records: list[PreAnnotation]
    outcomes: list[dict]
    suggested: dict[int, dict]
    annotations: list[dict]


@dataclass
class _Writes:
    """What a save's hook writes, gathered so that each kind is one statement."""
    delete: list[int] = field(default_factory=list)  # outcome rows: undone, withdrawn rejections, stale misses
    preannotations: dict[int, PreAnnotation] = field(default_factory=dict)
    creates: list[SuggestionOutcome] = field(default_factory=list)
    updates: list[SuggestionOutcome] = field(default_factory=list)
    misses: list[SuggestionOutcome] = field(default_factory=list)

    def apply(self, org) -> None:
        if self.delete:
            SuggestionOutcome.objects.for_org(org).filter(pk__in=self.delete).delete()
        if self.preannotations:
            PreAnnotation.objects.bulk_update(list(self.preannotations.values()), ["annotation_ids"])
        if self.creates:
            SuggestionOutcome.objects.bulk_create(self.creates)
        if self.updates:
            SuggestionOutcome.objects.bulk_update(self.updates, ["outcome", "iou", "label_changed",
                                                                 "attributes_changed", "geometry_changed", "final",
                                                                 "annotation_id", "updated_at"])
        if self.misses:
            SuggestionOutcome.objects.bulk_create(self.misses, ignore_conflicts=True)


# Four reads in one round trip, each a JSON array that PostgreSQL builds and psycopg parses in one go (four
# querysets, compiled per save and converting two JSON values per annotation, cost more than the reads themselves):
# the item's PreAnnotation rows; its shared outcome rows, with the suggestion as made only where it is used
# (rejected rows: the misses' pool and the undo of a rejection; rows of the save's suggestions); the first
# revisions of the save's suggestions (a creation is version 1, so the (organization, annotation, version) key
# finds each however long the item's history); and, only when the item has suggestions, its shared annotations.
# Row-level security applies as to any query; the organisation is also named, as for_org does.
_STATE_SQL = """
SELECT
  (SELECT json_agg(json_build_array(p.id, p.model_version_id, p.annotation_ids) ORDER BY p.model_version_id, p.id)
     FROM {preannotation} p WHERE p.organization_id = %(org)s AND p.item_id = %(item)s),
  (SELECT json_agg(json_build_array(o.id, o.model_version_id, o.suggestion_id, o.annotation_id, o.outcome,
                                    CASE WHEN o.outcome = %(rejected)s OR o.suggestion_id = ANY(%(ids)s)
                                         THEN o.suggested END) ORDER BY o.id)
     FROM {outcome} o WHERE o.organization_id = %(org)s AND o.item_id = %(item)s AND o.layer IS NULL),
  (SELECT json_agg(json_build_array(r.annotation_id, r.data) ORDER BY r.id)
     FROM {revision} r WHERE r.organization_id = %(org)s AND r.annotation_id = ANY(%(ids)s) AND r.version = 1
                         AND r.action = %(created)s),
  (SELECT json_agg(json_build_array(a.id, a.type, a.label, a.attributes, a.geometry, a.frame, a.review_state,
                                    a.created_by_id) ORDER BY a.frame, a.id)
     FROM {annotation} a WHERE a.organization_id = %(org)s AND a.item_id = %(item)s AND a.layer IS NULL
                          AND EXISTS (SELECT FROM {preannotation} p
                                      WHERE p.organization_id = %(org)s AND p.item_id = %(item)s))
"""
_ANNOTATION_KEYS = ("id", "type", "label", "attributes", "geometry", "frame", "review_state", "created_by_id")


def _shared_state(*, org, item, suggestion_ids: set[int]) -> _Shared:
    """The item's agreement state (_Shared) for a save of `suggestion_ids`, in one query (_STATE_SQL)."""
    if connection.vendor != "postgresql":
        return _shared_state_orm(org=org, item=item, suggestion_ids=suggestion_ids)
    quote = connection.ops.quote_name
    sql = _STATE_SQL.format(preannotation=quote(PreAnnotation._meta.db_table),
                            outcome=quote(SuggestionOutcome._meta.db_table),
                            revision=quote(AnnotationRevision._meta.db_table),
                            annotation=quote(Annotation._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": org.pk, "item": item.pk, "ids": sorted(suggestion_ids),
                             "rejected": Outcome.REJECTED.value, "created": AnnotationRevision.Action.CREATED.value})
        records, outcomes, suggested, annotations = cursor.fetchone()
    return _Shared(
        records=[PreAnnotation(pk=pk, organization_id=org.pk, item_id=item.pk, model_version_id=version,
                               annotation_ids=ids) for pk, version, ids in records or []],
        outcomes=[{"id": pk, "model_version_id": version, "suggestion_id": suggestion, "annotation_id": annotation,
                   "outcome": outcome, "suggested": content}
                  for pk, version, suggestion, annotation, outcome, content in outcomes or []],
        suggested={pk: _content(data) for pk, data in suggested or []},
        annotations=[dict(zip(_ANNOTATION_KEYS, row, strict=True)) for row in annotations or []])


def _shared_state_orm(*, org, item, suggestion_ids: set[int]) -> _Shared:
    """_shared_state through the ORM, in four queries: the embedded demo's SQLite, and what the one query must
    equal."""
    records = list(PreAnnotation.objects.for_org(org).filter(item_id=item.pk).order_by("model_version_id", "id")
                   .only("id", "model_version_id", "annotation_ids"))
    outcomes = list(SuggestionOutcome.objects.for_org(org).filter(item_id=item.pk, layer__isnull=True).order_by(
        "id").values("id", "model_version_id", "suggestion_id", "annotation_id", "outcome", "suggested"))
    for o in outcomes:
        if o["outcome"] != Outcome.REJECTED and o["suggestion_id"] not in suggestion_ids:
            o["suggested"] = None
    suggested = {r["annotation_id"]: _content(r["data"]) for r in AnnotationRevision.objects.for_org(org).filter(
        annotation_id__in=list(suggestion_ids), version=1, action=AnnotationRevision.Action.CREATED).order_by(
        "id").values("annotation_id", "data")} if suggestion_ids else {}
    annotations = [{key: row[key] for key in _ANNOTATION_KEYS}
                   for row in _shared_annotations(org=org, item_ids=[item.pk])[item.pk]] if records else []
    return _Shared(records=records, outcomes=outcomes, suggested=suggested, annotations=annotations)


def _shared_annotations(*, org, item_ids: list[int]) -> dict[int, list[dict]]:
    """The items' shared annotations as the misses read them, by item, each item's in (frame, id) order."""
    by_item = {pk: [] for pk in item_ids}
    for row in Annotation.objects.for_org(org).filter(item_id__in=item_ids, layer__isnull=True).order_by(
            "item_id", "frame", "id").values(*_ANNOTATION_KEYS, "item_id"):
        by_item[row["item_id"]].append(row)
    return by_item


def _record_resolutions(*, org, actor, item, shared: _Shared, changes, model_pks: set[int], at,
                        writes: _Writes) -> None:
    """This save's resolutions of suggestions, added to `writes` and applied to `shared.outcomes`."""
    _revive(shared=shared, writes=writes, created=[
        (pk, after) for pk, before, after in changes
        if before is None and after and after.get("source") == "model" and after.get("review_state") == "proposed"])
    rows = {o["suggestion_id"]: o for o in shared.outcomes if o["suggestion_id"] in model_pks}
    version_of = {pk: row["model_version_id"] for pk, row in rows.items()}
    for record in shared.records:
        for pk in record.annotation_ids:
            if pk in model_pks:
                version_of.setdefault(pk, record.model_version_id)
    if not version_of:
        return
    suggested = shared.suggested
    person = actor if getattr(actor, "pk", None) else None
    dropped = set()
    for pk, before, after in changes:
        if pk not in version_of or pk not in suggested:
            continue
        row = rows.get(pk)
        if after is None:
            if row is None and (before or {}).get("review_state") != "proposed":
                continue
            fields = {"outcome": Outcome.REJECTED, "iou": None, "label_changed": False, "attributes_changed": False,
                      "geometry_changed": False, "final": {}, "annotation_id": None}
        elif after.get("review_state") == "proposed":
            if row is not None:
                dropped.add(row["id"])  # undone: open again
            continue
        else:
            fields = {**_resolution(suggested[pk], _content(after)), "annotation_id": pk}
        if row is None:
            writes.creates.append(SuggestionOutcome(
                organization_id=org.pk, model_version_id=version_of[pk], item_id=item.pk, layer=None,
                suggestion_id=pk, suggested=suggested[pk], actor=person, resolved_at=at, updated_at=at, **fields))
            shared.outcomes.append({"id": None, "model_version_id": version_of[pk], "suggestion_id": pk,
                                    "annotation_id": fields["annotation_id"], "outcome": fields["outcome"],
                                    "suggested": suggested[pk]})
        else:
            writes.updates.append(SuggestionOutcome(pk=row["id"], organization_id=org.pk, updated_at=at, **fields))
            row.update(outcome=fields["outcome"], annotation_id=fields["annotation_id"])
    if dropped:
        writes.delete += dropped
        shared.outcomes = [o for o in shared.outcomes if o["id"] not in dropped]


def _revive(*, shared: _Shared, writes: _Writes, created) -> None:
    """The studio's undo of a rejection creates the suggestion again under a new id: a new open suggestion equal to
    a rejected one of this item takes its place in its version's suggestions, and the rejection is withdrawn (of
    equal ones, the first recorded: the outcome rows are in id order)."""
    if not created:
        return
    rejected = [o for o in shared.outcomes if o["outcome"] == Outcome.REJECTED]
    by_version = {record.model_version_id: record for record in shared.records}
    withdrawn = set()
    for pk, after in created:
        content = _content(after)
        row = next((r for r in rejected if r["id"] not in withdrawn and r["suggested"] == content
                    and r["model_version_id"] in by_version), None)
        if row is None:
            continue
        withdrawn.add(row["id"])
        record = by_version[row["model_version_id"]]
        record.annotation_ids = [*record.annotation_ids, pk]
        writes.preannotations[record.pk] = record
    if withdrawn:
        writes.delete += withdrawn
        shared.outcomes = [o for o in shared.outcomes if o["id"] not in withdrawn]


def _match(sim: np.ndarray, keys_a: list, keys_b: list, threshold: float):
    """quality.metrics.match, label-aware through the matrix (pairs whose keys differ get -1, below any threshold),
    which skips the "same object, other label" confusions this module does not use."""
    codes: dict = {}
    code_a = np.array([codes.setdefault(k, len(codes)) for k in keys_a], dtype=np.int64)
    code_b = np.array([codes.setdefault(k, len(codes)) for k in keys_b], dtype=np.int64)
    return match(np.where(code_a[:, None] == code_b[None, :], sim, -1.0), threshold=threshold)


def _unmatched(candidates: list[dict], pool: list[dict]) -> list[dict]:
    """The candidates that match none of the pool: per type, label-aware, one-to-one (quality.metrics.match)."""
    left = []
    by_type = defaultdict(lambda: ([], []))
    for c in candidates:
        by_type[c["type"]][0].append(c)
    for p in pool:
        if p.get("type") in by_type:
            by_type[p["type"]][1].append(p)
    for kind, (cands, sugg) in by_type.items():
        if not sugg:
            left += cands
            continue
        keys_c = [(c.get("frame") or 0, c["label"]) for c in cands]
        keys_s = [(s.get("frame") or 0, s.get("label")) for s in sugg]
        if kind in SHAPE_TYPES and all(x.get("geometry") is not None for x in [*cands, *sugg]):
            sim, threshold, _d = similarity(kind, [c["geometry"] for c in cands], [s["geometry"] for s in sugg],
                                            labels=[c["label"] for c in cands])
        else:  # classification (no shape): the label decides
            sim, threshold = np.ones((len(cands), len(sugg))), 0.5
        result = _match(sim, keys_c, keys_s, threshold)
        left += [cands[i] for i in result.unmatched_a]
    return left


def misses_refresh(*, org, item, records=None, at) -> None:
    """Recomputes each version's misses on the item's shared annotations (see the module's docstring)."""
    misses_refresh_many(org=org, items=[item], records_of=None if records is None else {item.pk: records}, at=at)


def misses_refresh_many(*, org, items, records_of: dict | None = None, at) -> None:
    """misses_refresh over several items, in a number of queries that does not grow with them. `records_of` (the
    items' PreAnnotation rows by item id) is read when not given."""
    by_item = _shared_annotations(org=org, item_ids=[item.pk for item in items])
    # An item with nothing people kept has nothing a model could have missed (a freshly pre-annotated item, the hot
    # path of a pipeline): only misses recorded before may have to go.
    idle = [pk for pk, annotations in by_item.items() if all(a["review_state"] == "proposed" for a in annotations)]
    if idle:
        SuggestionOutcome.objects.for_org(org).filter(item_id__in=idle, layer__isnull=True,
                                                      outcome=Outcome.MISSED).delete()
    busy = [pk for pk in by_item if pk not in set(idle)]
    if not busy:
        return
    if records_of is None:
        records_of = defaultdict(list)
        for record in PreAnnotation.objects.for_org(org).filter(item_id__in=busy).only(
                "item_id", "model_version_id", "annotation_ids"):
            records_of[record.item_id].append(record)
    outcomes_of = defaultdict(list)
    for row in SuggestionOutcome.objects.for_org(org).filter(item_id__in=busy, layer__isnull=True).values(
            "id", "item_id", "model_version_id", "suggestion_id", "annotation_id", "outcome", "suggested"):
        outcomes_of[row["item_id"]].append(row)
    creates, stale = [], []
    for pk in busy:
        if records_of.get(pk):
            _item_misses(org=org, item_id=pk, annotations=by_item[pk], records=records_of[pk],
                         outcomes=outcomes_of[pk], at=at, creates=creates, stale=stale)
    if stale:
        SuggestionOutcome.objects.for_org(org).filter(pk__in=stale).delete()
    if creates:
        SuggestionOutcome.objects.bulk_create(creates, ignore_conflicts=True)


def _item_misses(*, org, item_id, annotations, records, outcomes, at, creates: list, stale: list) -> None:
    """One item's misses: adds the rows to create to `creates` and the ids of those no longer missed to `stale`."""
    final = [a for a in annotations if a["review_state"] != "proposed"]
    current = {a["id"]: a for a in annotations}
    keep = set()
    existing = {(o["model_version_id"], o["annotation_id"]): o["id"] for o in outcomes
                if o["outcome"] == Outcome.MISSED}
    for record in records:
        version = record.model_version_id
        mine = [o for o in outcomes if o["model_version_id"] == version and o["outcome"] != Outcome.MISSED]
        own_ids = set(record.annotation_ids) | {o["suggestion_id"] for o in mine}
        pool = [current[pk] for pk in record.annotation_ids
                if pk in current and current[pk]["review_state"] == "proposed"]
        pool += [o["suggested"] for o in mine if o["outcome"] == Outcome.REJECTED]
        candidates = [a for a in final if a["id"] not in own_ids]
        for missed in _unmatched(candidates, pool):
            key = (version, missed["id"])
            if key in existing:
                keep.add(existing[key])
                continue
            creates.append(SuggestionOutcome(
                organization_id=org.pk, model_version_id=version, item_id=item_id, layer=None,
                annotation_id=missed["id"], outcome=Outcome.MISSED, final=_content(missed),
                actor_id=missed["created_by_id"], resolved_at=at, updated_at=at))
    stale += [pk for pk in existing.values() if pk not in keep]


def _pairs(final: list[dict], suggestions: list[dict]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """One-to-one pairs (final index, suggestion index) per type, the same label first and then any label, and the
    indices left unmatched on each side."""
    pairs, left_f, left_s = [], [], []
    for kind in {a["type"] for a in final} | {s.get("type") for s in suggestions}:
        idx_f = [i for i, a in enumerate(final) if a["type"] == kind]
        idx_s = [j for j, s in enumerate(suggestions) if s.get("type") == kind]
        if not idx_f or not idx_s:
            left_f += idx_f
            left_s += idx_s
            continue
        if kind in SHAPE_TYPES and all(final[i].get("geometry") is not None for i in idx_f) and all(
                suggestions[j].get("geometry") is not None for j in idx_s):
            sim, threshold, _d = similarity(kind, [final[i]["geometry"] for i in idx_f],
                                            [suggestions[j]["geometry"] for j in idx_s],
                                            labels=[final[i]["label"] for i in idx_f])
        else:
            sim, threshold = np.ones((len(idx_f), len(idx_s))), 0.5
        keys_f = [(final[i].get("frame") or 0, final[i]["label"]) for i in idx_f]
        keys_s = [(suggestions[j].get("frame") or 0, suggestions[j].get("label")) for j in idx_s]
        same = _match(sim, keys_f, keys_s, threshold)
        found = [(a, b) for a, b, _s in same.pairs]
        if same.unmatched_a and same.unmatched_b:
            rest = sim[np.ix_(same.unmatched_a, same.unmatched_b)]
            frames_f = [keys_f[a][0] for a in same.unmatched_a]
            frames_s = [keys_s[b][0] for b in same.unmatched_b]
            other = _match(rest, frames_f, frames_s, threshold)
            found += [(same.unmatched_a[a], same.unmatched_b[b]) for a, b, _s in other.pairs]
        used_f, used_s = {a for a, _b in found}, {b for _a, b in found}
        pairs += [(idx_f[a], idx_s[b]) for a, b in found]
        left_f += [idx_f[a] for a in range(len(idx_f)) if a not in used_f]
        left_s += [idx_s[b] for b in range(len(idx_s)) if b not in used_s]
    return pairs, left_f, left_s


def on_unit_submitted(*, org, actor, item, layer, at) -> None:
    """The unit submitted listener (apps/workforce/unit_hooks.py): the layer's outcomes, recomputed (see the module's
    docstring)."""
    records = list(PreAnnotation.objects.for_org(org).filter(item=item).only("model_version_id", "annotation_ids"))
    SuggestionOutcome.objects.for_org(org).filter(item=item, layer=layer).delete()
    if not records or layer is None:
        return
    shared = {a["id"]: a for a in Annotation.objects.for_org(org).filter(
        item=item, layer__isnull=True, review_state="proposed").values(
        "id", "type", "label", "attributes", "geometry", "frame")}
    final = list(Annotation.objects.for_org(org).filter(item=item, layer=layer).exclude(review_state="proposed")
                 .values("id", "type", "label", "attributes", "geometry", "frame").order_by("id"))
    person = actor if getattr(actor, "pk", None) else None
    rows = []
    for record in records:
        suggestions = [shared[pk] for pk in record.annotation_ids if pk in shared]
        if not suggestions:
            continue
        pairs, missed, rejected = _pairs(final, suggestions)

        def row(version=record.model_version_id, **fields):
            return SuggestionOutcome(organization_id=org.pk, model_version_id=version,
                                     item_id=item.pk, layer=layer, actor=person, resolved_at=at, updated_at=at,
                                     **fields)

        for i, j in pairs:
            rows.append(row(suggestion_id=suggestions[j]["id"], annotation_id=final[i]["id"],
                            suggested=_content(suggestions[j]),
                            **_resolution(_content(suggestions[j]), _content(final[i]))))
        rows += [row(suggestion_id=suggestions[j]["id"], outcome=Outcome.REJECTED, suggested=_content(suggestions[j]))
                 for j in rejected]
        rows += [row(annotation_id=final[i]["id"], outcome=Outcome.MISSED, final=_content(final[i])) for i in missed]
    SuggestionOutcome.objects.bulk_create(rows)
