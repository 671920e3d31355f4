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

import numpy as np

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
    item's suggestions and refreshes the item's misses."""
    if layer is not None or _replacing.get():
        return  # a model re-run replacing its suggestions refreshes the misses itself once it is done
    records = list(PreAnnotation.objects.for_org(org).filter(item=item).only("model_version_id", "annotation_ids"))
    if not records:
        return
    _record_resolutions(org=org, actor=actor, item=item, records=records, changes=changes, at=at)
    misses_refresh(org=org, item=item, records=records, at=at)


def _record_resolutions(*, org, actor, item, records, changes, at) -> None:
    model_pks = {pk for pk, before, after in changes
                 if (before or {}).get("source") == "model" or (after or {}).get("source") == "model"}
    if not model_pks:
        return
    _revive(org=org, item=item, records=records, created=[
        (pk, after) for pk, before, after in changes
        if before is None and after and after.get("source") == "model" and after.get("review_state") == "proposed"])
    rows = {row.suggestion_id: row for row in SuggestionOutcome.objects.for_org(org).filter(
        item=item, layer__isnull=True, suggestion_id__in=model_pks)}
    version_of = {pk: row.model_version_id for pk, row in rows.items()}
    for record in records:
        for pk in record.annotation_ids:
            if pk in model_pks:
                version_of.setdefault(pk, record.model_version_id)
    if not version_of:
        return
    suggested = {r.annotation_id: _content(r.data) for r in AnnotationRevision.objects.for_org(org).filter(
        item=item, annotation_id__in=list(version_of), action=AnnotationRevision.Action.CREATED)}
    creates, updates, drops = [], [], []
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
                drops.append(row.pk)  # undone: open again
            continue
        else:
            fields = {**_resolution(suggested[pk], _content(after)), "annotation_id": pk}
        if row is None:
            creates.append(SuggestionOutcome(
                organization_id=org.pk, model_version_id=version_of[pk], item_id=item.pk, layer=None,
                suggestion_id=pk, suggested=suggested[pk], actor=actor if getattr(actor, "pk", None) else None,
                resolved_at=at, updated_at=at, **fields))
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = at
            updates.append(row)
    if drops:
        SuggestionOutcome.objects.for_org(org).filter(pk__in=drops).delete()
    if creates:
        SuggestionOutcome.objects.bulk_create(creates)
    if updates:
        SuggestionOutcome.objects.bulk_update(updates, ["outcome", "iou", "label_changed", "attributes_changed",
                                                        "geometry_changed", "final", "annotation_id", "updated_at"])


def _revive(*, org, item, records, created) -> None:
    """The studio's undo of a rejection creates the suggestion again under a new id: a new open suggestion equal to
    a rejected one of this item takes its place in its version's suggestions, and the rejection is withdrawn."""
    if not created:
        return
    rejected = list(SuggestionOutcome.objects.for_org(org).filter(item=item, layer__isnull=True,
                                                                  outcome=Outcome.REJECTED))
    by_version = {record.model_version_id: record for record in records}
    withdrawn, changed = [], {}
    for pk, after in created:
        content = _content(after)
        row = next((r for r in rejected if r.pk not in withdrawn and r.suggested == content
                    and r.model_version_id in by_version), None)
        if row is None:
            continue
        withdrawn.append(row.pk)
        record = by_version[row.model_version_id]
        record.annotation_ids = [*record.annotation_ids, pk]
        changed[record.pk] = record
    if withdrawn:
        SuggestionOutcome.objects.for_org(org).filter(pk__in=withdrawn).delete()
        PreAnnotation.objects.bulk_update(list(changed.values()), ["annotation_ids"])


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
    by_item = {item.pk: [] for item in items}
    for row in Annotation.objects.for_org(org).filter(item_id__in=list(by_item), layer__isnull=True).values(
            "id", "item_id", "type", "label", "attributes", "geometry", "frame", "review_state", "created_by_id"):
        by_item[row["item_id"]].append(row)
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
