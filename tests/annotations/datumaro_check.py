"""Loads an exported dataset with datumaro and prints what it found, as JSON. Runs in datumaro's own virtual
environment (.venv/datumaro: datumaro's pins conflict with ours), started by tests/annotations/test_formats.py:

    .venv/datumaro/bin/python tests/annotations/datumaro_check.py FORMAT PATH

Prints {"items": [{"id", "annotations": [{"type", "label", "bbox", "points"}]}], "labels": [...]}. Any import
error (datumaro's default policy raises) exits non-zero with the traceback on stderr.
"""

import json
import sys


def main(format_name: str, path: str) -> None:
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    dataset = Dataset.import_from(path, format_name)
    label_names = [label.name for label in dataset.categories()[AnnotationType.label].items]
    items = []
    for item in dataset:
        annotations = []
        for ann in item.annotations:
            entry = {"type": ann.type.name, "label": label_names[ann.label] if getattr(ann, "label", None) is not None
                     else None}
            if hasattr(ann, "get_bbox"):
                entry["bbox"] = [round(float(v), 3) for v in ann.get_bbox()]
            if ann.type.name in ("polygon", "points"):
                entry["points"] = [round(float(v), 3) for v in ann.points]
            entry["attributes"] = {k: v for k, v in ann.attributes.items() if isinstance(v, (str, int, float, bool))}
            annotations.append(entry)
        items.append({"id": item.id, "annotations": annotations})
    print(json.dumps({"items": sorted(items, key=lambda i: i["id"]), "labels": label_names}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
