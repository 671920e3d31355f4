"""The demo organisation's model: PP-OCRv6 text detection (DBNet), the ONNX file that ships inside the `rapidocr`
wheel (Apache-2.0; requirements-models.txt installs it without its dependencies, and only the file is used). It is
registered like any upload and pre-annotates the sample photographs with text regions as polygons."""

import importlib.util
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.datasets.selectors import item_list
from apps.recipes.models import Recipe
from apps.recipes.selectors import recipe_latest_version
from apps.recipes.services import recipe_create, recipe_publish

from .models import Model
from .selectors import model_get_by_name, model_version_list
from .services import model_create, model_version_register, preannotate_request

DEMO_MODEL = "PP-OCRv6 text detector"
DEMO_TEXT_RECIPE = "Text regions"
TEXT_RECIPE_SPEC = {
    "labels": [{"name": "text", "color": "#b07aa1", "hotkey": "1", "tools": ["polygon", "bbox"],
                "attributes": [{"name": "transcription", "type": "text"}]}],
    "attributes": [],
    "instructions": "<p>Outline every line of <strong>text</strong>.</p>",
    "review": {"required": False, "sample_ratio": 0.0, "reject_reasons": []},
}
# PaddleOCR's detector reads OpenCV images (BGR), scales the short side to 736 and rounds to multiples of 32.
TEXT_DETECTOR_INPUT = {"resize": "limit", "limit_side": 736, "limit_type": "min", "multiple_of": 32,
                       "max_side": 2048, "layout": "NCHW", "color": "BGR", "mean": [0.5, 0.5, 0.5],
                       "std": [0.5, 0.5, 0.5], "scale": 1 / 255}
TEXT_DETECTOR_DECODER = {"kind": "dbnet", "thresh": 0.3, "box_thresh": 0.5, "unclip_ratio": 1.6}
TEXT_DETECTOR_FILE = "PP-OCRv6_det_small.onnx"


def text_detector_path() -> Path | None:
    """The ONNX file inside the installed rapidocr wheel, found without importing the package."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / TEXT_DETECTOR_FILE
    return path if path.is_file() else None


def text_recipe_seed(*, org, actor):
    recipe = Recipe.objects.for_org(org).filter(name=DEMO_TEXT_RECIPE).first()
    if recipe is None:
        recipe = recipe_create(org=org, actor=actor, name=DEMO_TEXT_RECIPE, spec=TEXT_RECIPE_SPEC,
                               description="Text lines, found by the demo's OCR text detector.")
    version = recipe_latest_version(recipe=recipe)
    if version is None:
        version = recipe_publish(org=org, actor=actor, recipe=recipe, message="First version")
    return recipe, version


def demo_model_seed(*, org, actor, dataset=None) -> tuple[Model | None, bool, int]:
    """Registers the text detector once and queues pre-annotation of the dataset's images.
    Returns (the model or None when rapidocr is not installed, whether it was registered now, items queued)."""
    path = text_detector_path()
    if path is None:
        return None, False, 0
    recipe, version = text_recipe_seed(org=org, actor=actor)
    model = model_get_by_name(org=org, name=DEMO_MODEL)
    if model is None:
        model = model_create(org=org, actor=actor, name=DEMO_MODEL, task_type="detection", recipe=recipe,
                             description="PP-OCRv6 small text detection (DBNet) from the rapidocr wheel: "
                                         "outlines lines of text.")
    model_version = model_version_list(model=model).first()
    created = model_version is None
    if created:
        model_version = model_version_register(
            org=org, actor=actor, model=model, file=SimpleUploadedFile(TEXT_DETECTOR_FILE, path.read_bytes()),
            input_spec=TEXT_DETECTOR_INPUT, decoder=TEXT_DETECTOR_DECODER, label_map={"0": "text"},
            recipe_version=version, notes="PaddleOCR PP-OCRv6 small detection, Apache-2.0 (via rapidocr 3.10).",
        )
    queued = 0
    if created and dataset is not None:
        ids = list(item_list(dataset=dataset).filter(kind="image").values_list("id", flat=True)[:200])
        if ids:
            queued = preannotate_request(org=org, actor=actor, model_version=model_version, item_ids=ids)
            _keep_pending_for_the_embedded_worker(org=org, model_version=model_version)
    return model, created, queued


def _keep_pending_for_the_embedded_worker(*, org, model_version) -> None:
    """In the embedded mode the seeding process has no worker: its in-memory broker would drop the messages when it
    exits. Leave them pending, so the relay of `manage.py demo` sends them to the worker that runs there."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from apps.core.models import OutboxMessage

    from .tasks import PREANNOTATE

    if isinstance(dramatiq.get_broker(), StubBroker):
        OutboxMessage.objects.filter(organization_id=org.pk, actor_name=PREANNOTATE[org.region].actor_name,
                                     args__1=model_version.pk).update(sent_at=None, attempts=0)
