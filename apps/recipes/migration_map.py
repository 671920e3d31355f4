"""Migration maps: how annotations pinned to an older recipe version follow a newly published one.

A map is a list of operations on labels:
    {"op": "rename", "from": "car", "to": "vehicle"}
    {"op": "merge", "from": ["car", "truck"], "to": "vehicle"}
    {"op": "split", "from": "vehicle", "attribute": "kind", "cases": {"sedan": "car", "lorry": "truck"},
     "default": "car"}                      # the annotation's attribute value picks the new label
    {"op": "delete", "label": "bicycle"}    # annotations of this label are deleted (with a revision)
Labels kept under the same name need no operation. A label that disappears from the new version without an
operation is an error: nothing is dropped silently.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from .spec import SpecErrors, label_map

OPS = ("rename", "merge", "split", "delete")
MAX_OPS = 1_000
DELETE = object()  # what `LabelMigration.target` answers for an annotation that the map deletes


def _label_ref(value, path, errors, labels, which):
    if not isinstance(value, str) or value not in labels:
        errors.add(path, f"{value!r} is not a label of the {which} version.")
        return None
    return value


def normalise_migration_map(raw, *, old_spec: dict, new_spec: dict) -> list[dict]:
    if raw in (None, []):
        raw = []
    if not isinstance(raw, list):
        raise ValidationError({"migration": "A migration map is a list of operations."})
    if len(raw) > MAX_OPS:
        raise ValidationError({"migration": f"At most {MAX_OPS} operations."})
    old, new = label_map(old_spec), label_map(new_spec)
    errors, ops, sources = SpecErrors(), [], {}
    for i, op in enumerate(raw):
        path = f"migration.{i}"
        if not isinstance(op, dict) or op.get("op") not in OPS:
            errors.add(f"{path}.op", f"Each operation has an op: one of {', '.join(OPS)}.")
            continue
        kind = op["op"]
        if kind == "rename":
            src = _label_ref(op.get("from"), f"{path}.from", errors, old, "previous")
            dst = _label_ref(op.get("to"), f"{path}.to", errors, new, "new")
            clean, used = {"op": kind, "from": src, "to": dst}, [src]
        elif kind == "merge":
            froms = op.get("from")
            if not isinstance(froms, list) or len(froms) < 2:
                errors.add(f"{path}.from", "A merge takes a list of at least two labels.")
                continue
            used = [_label_ref(f, f"{path}.from.{j}", errors, old, "previous") for j, f in enumerate(froms)]
            clean = {"op": kind, "from": used, "to": _label_ref(op.get("to"), f"{path}.to", errors, new, "new")}
        elif kind == "split":
            src = _label_ref(op.get("from"), f"{path}.from", errors, old, "previous")
            attribute, cases = op.get("attribute"), op.get("cases")
            if not isinstance(attribute, str) or not attribute:
                errors.add(f"{path}.attribute", "A split names the attribute whose value picks the new label.")
            if not isinstance(cases, dict) or not cases:
                errors.add(f"{path}.cases", "A split maps attribute values to new labels.")
                cases = {}
            clean_cases = {str(value): _label_ref(target, f"{path}.cases.{value}", errors, new, "new")
                           for value, target in cases.items()}
            # Required, so an annotation whose attribute matches no case is never dropped by accident.
            default = _label_ref(op.get("default"), f"{path}.default", errors, new, "new")
            clean, used = {"op": kind, "from": src, "attribute": attribute, "cases": clean_cases,
                           "default": default}, [src]
        else:
            src = _label_ref(op.get("label"), f"{path}.label", errors, old, "previous")
            clean, used = {"op": kind, "label": src}, [src]
        for name in used:
            if name is None:
                continue
            if name in sources:
                errors.add(path, f"Label {name!r} is already handled by operation {sources[name]}.")
            sources.setdefault(name, i)
        ops.append(clean)
    for name in sorted(set(old) - set(new) - set(sources)):
        errors.add("migration", f"Label {name!r} is not in the new version: rename, merge, split or delete it.")
    errors.raise_if_any()
    return ops


@dataclass(frozen=True)
class LabelMigration:
    """A compiled map: which new label (or DELETE) an annotation of an old label becomes."""

    ops: tuple

    @classmethod
    def compile(cls, ops: list[dict]) -> "LabelMigration":
        return cls(tuple(ops))

    def affected_labels(self) -> set[str]:
        out = set()
        for op in self.ops:
            if op["op"] == "merge":
                out.update(op["from"])
            else:
                out.add(op.get("from") or op.get("label"))
        return out

    def target(self, label: str, attributes: dict):
        """The new label for an annotation, DELETE, or the label itself when no operation touches it."""
        for op in self.ops:
            kind = op["op"]
            if kind == "rename" and op["from"] == label:
                return op["to"]
            if kind == "merge" and label in op["from"]:
                return op["to"]
            if kind == "delete" and op["label"] == label:
                return DELETE
            if kind == "split" and op["from"] == label:
                value = (attributes or {}).get(op["attribute"])
                return op["cases"].get(str(value), op["default"]) if value is not None else op["default"]
        return label
