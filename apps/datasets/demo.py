"""The demo organisation's dataset of real photographs.

The images are the sample data that ships inside scikit-image's wheel (BSD-licensed; see
https://scikit-image.org/docs/stable/api/skimage.data.html for their sources). Only the files are
used: the package is installed without its dependencies (requirements-demo.txt) and never imported.
"""

import importlib.util
from pathlib import Path

from django.core.files import File

from .intake import items_upload
from .models import Dataset
from .selectors import dataset_list, item_list
from .services import dataset_create

DEMO_DATASET = "Sample photographs"
_FOLDERS = {
    "astronaut": "/people", "camera": "/people", "chelsea": "/animals", "horse": "/animals",
    "coffee": "/objects", "rocket": "/objects", "motorcycle_left": "/vehicles", "motorcycle_right": "/vehicles",
}


def sample_image_paths() -> list[Path]:
    spec = importlib.util.find_spec("skimage")  # finds the files without running the package
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return sorted(p for p in folder.glob("*") if p.suffix in (".png", ".jpg"))


def demo_dataset_seed(*, org, actor) -> tuple[Dataset | None, int]:
    """Creates the demo dataset with the sample photographs once; returns it and how many items it gained."""
    paths = sample_image_paths()
    if not paths:
        return None, 0
    dataset = dataset_list(org=org, actor=actor).filter(name=DEMO_DATASET).first()
    if dataset is None:
        dataset = dataset_create(org=org, actor=actor, name=DEMO_DATASET, classification="public",
                                 description="Real photographs from scikit-image's sample data, for trying things out.")
    if item_list(dataset=dataset).exists():
        return dataset, 0
    added = 0
    for folder in sorted(set(_FOLDERS.values()) | {"/misc"}):
        chosen = [p for p in paths if _FOLDERS.get(p.stem, "/misc") == folder]
        handles = [open(p, "rb") for p in chosen]  # noqa: SIM115 (closed below)
        try:
            items_upload(org=org, actor=actor, dataset=dataset, folder=folder,
                         files=[File(h, name=p.name) for h, p in zip(handles, chosen, strict=True)])
            added += len(chosen)
        finally:
            for handle in handles:
                handle.close()
    return dataset, added
