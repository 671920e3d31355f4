"""The real pretrained model (PP-OCRv6 text detection from the rapidocr wheel) finds text in a real image."""

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import Polygon, box

from apps.annotations.models import Annotation
from apps.automation import tasks
from apps.automation.demo import (
    DEMO_MODEL,
    TEXT_DETECTOR_DECODER,
    TEXT_DETECTOR_INPUT,
    demo_model_seed,
    text_detector_path,
)
from apps.automation.models import ModelVersion
from apps.automation.runtime import Predictor, create_session, parse_decoder, parse_input_spec
from apps.core.models import OutboxMessage
from apps.datasets.intake import items_upload
from tests.automation.factories import png_bytes
from tests.datasets.factories import DatasetFactory

LINES = [((40, 40), "INVOICE 2026-118"), ((60, 170), "Total due: 42.00 EUR")]


def text_image() -> tuple[Image.Image, list]:
    image = Image.new("RGB", (640, 300), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    boxes = []
    for origin, text in LINES:
        draw.text(origin, text, fill=(20, 20, 30), font=font)
        boxes.append(box(*draw.textbbox(origin, text, font=font)))
    return image, boxes


def test_the_text_detector_outlines_each_line_of_rendered_text():
    image, lines = text_image()
    predictor = Predictor(create_session(text_detector_path().read_bytes()), parse_input_spec(TEXT_DETECTOR_INPUT),
                          parse_decoder(TEXT_DETECTOR_DECODER, task_type="detection"), {0: "text"})

    found = predictor.predict([image])[0]

    assert len(found) == len(lines)
    for line in lines:
        best = max(found, key=lambda a: Polygon(a["geometry"]["exterior"]).intersection(line).area)
        polygon = Polygon(best["geometry"]["exterior"])
        assert polygon.intersection(line).area / line.area > 0.8
        assert best["label"] == "text" and best["confidence"] > 0.5


def test_the_demo_registers_the_detector_and_it_pre_annotates_the_dataset(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a)
    image, _lines = text_image()
    item = items_upload(org=org_a, actor=owner_a.user, dataset=dataset,
                        files=[SimpleUploadedFile("invoice.png", png_bytes(image), content_type="image/png")])[0]

    model, created, queued = demo_model_seed(org=org_a, actor=owner_a.user, dataset=dataset)
    version = ModelVersion.objects.get(model=model)
    message = OutboxMessage.objects.get(actor_name="preannotate_items__eu")
    tasks.preannotate_items(*message.args)

    assert (model.name, created, queued, version.status) == (DEMO_MODEL, True, 1, "ready")
    texts = Annotation.objects.filter(item=item, source="model", label="text", type="polygon")
    assert texts.count() == len(LINES)
    assert demo_model_seed(org=org_a, actor=owner_a.user, dataset=dataset)[1:] == (False, 0)
