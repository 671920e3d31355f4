"""The preprocess node (anonymise faces, resize, format; replace or derive) and the filter node's NMS post-process.

Face detection is checked on real photographs: scikit-image's wheel (requirements-demo.txt) ships the astronaut
(Eileen Collins) and the cameraman; the tests that need them are skipped where it is not installed."""

import importlib.util
import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw

from apps.annotations.models import Annotation
from apps.automation import pipeline_engine
from apps.automation.models import NodeRun, PipelineRun
from apps.automation.pipelines import pipeline_create
from apps.automation.runtime.faces import face_detector
from apps.automation.runtime.imageops import ImageOpError, process_image
from apps.compliance.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.datasets.intake import item_thumbnail_make, items_upload
from apps.datasets.models import Item
from apps.storage.models import Blob
from apps.storage.regions import backend_for
from apps.storage.services import blob_read_bytes
from tests.automation.factories import constant_detector, png_bytes, registered_classifier, to_bytes, upload
from tests.automation.test_pipelines import drain, errors_of
from tests.datasets.factories import DatasetFactory


def sample(name: str) -> Image.Image:
    spec = importlib.util.find_spec("skimage")  # only its files: it is installed without its dependencies
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data", f"{name}.png") if spec else ""
    if not os.path.exists(path):
        pytest.skip(f"{name}.png comes with scikit-image (requirements-demo.txt), not installed here")
    return Image.open(path).convert("RGB")


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


def uploaded(org, actor, dataset, image: Image.Image | bytes, name="photo.png") -> Item:
    data = image if isinstance(image, bytes) else png_bytes(image)
    return items_upload(org=org, actor=actor, dataset=dataset,
                        files=[SimpleUploadedFile(name, data, content_type="image/png")])[0]


def graph(config: dict, *, after: list | None = None) -> dict:
    nodes = [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
             {"id": "prep", "type": "preprocess", "config": config}, *(after or [])]
    edges = [{"from": "start", "to": "prep"}, *({"from": "prep", "to": n["id"]} for n in after or [])]
    return {"nodes": nodes, "edges": edges}


def run(org, actor, dataset, config, items, *, after=None, capture=None):
    pipeline = pipeline_create(org=org, actor=actor, name="Prep", dataset=dataset, graph=graph(config, after=after))
    started = pipeline_engine.pipeline_run_start(org=org, actor=actor, pipeline=pipeline,
                                                 item_ids=[i.pk for i in items])
    if capture is None:
        drain()
    else:
        with capture(execute=True):
            drain()
    return PipelineRun.objects.get(pk=started.pk)


def stored(item: Item) -> Image.Image:
    item.refresh_from_db()
    return Image.open(io.BytesIO(blob_read_bytes(item.blob)))


# --- validation -------------------------------------------------------------------------------------------------


def test_config_problems_are_named_by_their_path(org_a, owner_a, dataset):
    context = {"org": org_a, "actor": owner_a.user, "dataset": dataset}

    errors = errors_of(graph({"resize": "max_side", "format": "gif", "quality": 0, "shade": 1}), **context)
    assert errors == {"graph.nodes.1.config.max_side": ["Required: a whole number from 1 to 16384."],
                      "graph.nodes.1.config.format": ["One of jpeg, png, webp."],
                      "graph.nodes.1.config.shade": ["Unknown setting for this node type."]}
    assert errors_of(graph({}), **context) == {
        "graph.nodes.1.config": ["Choose at least one operation: blur faces, resize or format."]}
    assert errors_of(graph({"format": "png", "mode": "derive"}), **context) == {
        "graph.nodes.1.config.folder": ["Required with mode derive: the folder the new items go to."]}
    assert errors_of(graph({"resize": "exact", "width": 16000, "height": 16000}), **context) == {
        "graph.nodes.1.config.width": ["16000 x 16000 is more than the 100 megapixels a picture may have."]}
    assert errors_of(graph({"blur_faces": "smudge", "resize": "exact", "width": 10, "height": 99999}),
                     **context) == {"graph.nodes.1.config.blur_faces": ["One of blur, pixelate."],
                                    "graph.nodes.1.config.height": ["A whole number from 1 to 16384."]}


def test_the_builder_lists_the_node_and_its_fields(org_a, owner_a):
    from apps.automation.pipelines import node_type_forms

    forms = {f["type"]: f for f in node_type_forms()}
    fields = [f["name"] for f in forms["preprocess"]["fields"]]
    assert fields[:4] == ["blur_faces", "face_confidence", "min_face_size", "resize"]
    assert {"max_side", "format", "quality", "mode", "folder"} <= set(fields)
    assert "nms_iou" in [f["name"] for f in forms["filter"]["fields"]]


# --- resize and format, replacing the content ------------------------------------------------------------------


def test_resize_and_format_replace_the_content_and_the_old_bytes_are_gone(
        org_a, owner_a, dataset, django_capture_on_commit_callbacks):
    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (400, 200), "teal"))
    item_thumbnail_make(item=item)
    item.refresh_from_db()
    old = [(b.pk, b.region, b.key) for b in (item.blob, item.thumbnail)]

    done = run(org_a, owner_a.user, dataset, {"resize": "max_side", "max_side": 100, "format": "jpeg",
                                              "quality": 80}, [item], capture=django_capture_on_commit_callbacks)

    assert done.status == "done"
    picture = stored(item)
    assert (picture.format, picture.size) == ("JPEG", (100, 50))
    assert (item.name, item.mime, item.width, item.height, item.thumbnail_id) == ("photo.jpg", "image/jpeg", 100, 50,
                                                                                    None)
    for pk, region, key in old:
        assert not Blob.objects.filter(pk=pk).exists()
        assert not backend_for(region).exists(key)
    assert OutboxMessage.objects.filter(actor_name="make_item_thumbnail", args=[org_a.pk, item.pk]).count() == 2
    event = AuditEvent.objects.get(action="item.content_replaced")
    assert event.metadata["operations"] == ["resize", "format"]
    assert NodeRun.objects.get(node_id="prep").output["preprocess"]["width"] == 100


def test_exact_size_cover_and_webp(org_a, owner_a, dataset):
    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (300, 100), "orange"))

    run(org_a, owner_a.user, dataset, {"resize": "exact", "width": 64, "height": 64, "fit": "cover",
                                       "format": "webp", "quality": 50}, [item])

    picture = stored(item)
    assert (picture.format, picture.size, item.name) == ("WEBP", (64, 64), "photo.webp")


def test_a_picture_nothing_changes_is_left_as_it_is(org_a, owner_a, dataset):
    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (50, 40), "white"))
    blob_id = item.blob_id

    run(org_a, owner_a.user, dataset, {"resize": "max_side", "max_side": 100, "format": "png"}, [item])

    item.refresh_from_db()
    assert item.blob_id == blob_id
    assert NodeRun.objects.get(node_id="prep").output["preprocess"]["changed"] is False


def test_an_annotated_item_is_not_resized_in_place(org_a, owner_a, dataset, text_recipe):
    from apps.annotations.services import annotations_change

    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (400, 200), "teal"))
    annotations_change(org=org_a, actor=owner_a.user, item=item, create=[
        {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 10, "h": 10},
         "recipe_version": text_recipe[1].pk}])

    done = run(org_a, owner_a.user, dataset, {"resize": "max_side", "max_side": 100}, [item])

    assert done.status == "failed"
    assert "use mode derive" in NodeRun.objects.get(node_id="prep").error


# --- hostile images -------------------------------------------------------------------------------------------


def test_a_truncated_image_fails_its_node_run_with_the_reason(org_a, owner_a, dataset):
    noise = Image.effect_noise((256, 256), 80).convert("RGB")
    whole = png_bytes(noise)
    broken = uploaded(org_a, owner_a.user, dataset, whole[: len(whole) // 2], name="broken.png")  # header intact
    fine = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (300, 300), "white"), name="fine.png")

    done = run(org_a, owner_a.user, dataset, {"resize": "max_side", "max_side": 64}, [broken, fine])

    failed = NodeRun.objects.get(status="failed")
    assert failed.item_id == broken.pk
    assert "damaged or truncated" in failed.error and "damaged or truncated" in failed.log
    assert stored(fine).size == (64, 64)
    assert done.status == "failed"


def test_a_picture_past_the_pixel_limit_fails_and_is_never_decoded(org_a, owner_a, dataset, settings):
    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (2000, 2000), "white"))
    settings.INTAKE_MAX_IMAGE_PIXELS = 1_000_000  # the limit lowered after intake, as for a 50,000 x 50,000 bomb

    run(org_a, owner_a.user, dataset, {"format": "jpeg"}, [item])

    assert "too large to process safely: 2000 x 2000" in NodeRun.objects.get(node_id="prep").error


def test_bombs_and_non_images_raise_a_clear_error():
    bomb = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(bomb, "PNG")  # ~100 KB declaring 900 megapixels
    with pytest.raises(ImageOpError, match="too large to process safely"):
        process_image(bomb.getvalue(), {"format": "png"}, max_pixels=100_000_000)
    with pytest.raises(ImageOpError, match="not an image we can read"):
        process_image(b"%PDF-1.7 not a picture", {"format": "png"}, max_pixels=100_000_000)


# --- faces ------------------------------------------------------------------------------------------------------


def test_mtcnn_finds_the_faces_in_real_photographs_and_none_in_a_cup_of_coffee():
    detector = face_detector()

    [face] = detector.detect(sample("astronaut"))
    assert face.confidence > 0.99
    assert 160 < face.x1 < 200 and 40 < face.y1 < 80 and 250 < face.x2 < 290 and 150 < face.y2 < 195
    [face] = detector.detect(sample("camera"))
    assert 180 < face.x1 < 215 and 240 < face.x2 < 270
    assert detector.detect(sample("coffee")) == []
    # A large picture is searched on a smaller copy and the box scaled back.
    big = sample("astronaut").resize((2048, 2048))
    [face] = detector.detect(big)
    assert 640 < face.x1 < 800 and 1000 < face.x2 < 1160


def test_blur_faces_anonymises_the_photo_in_place(org_a, owner_a, dataset):
    photo = sample("astronaut")
    item = uploaded(org_a, owner_a.user, dataset, photo, name="astronaut.png")

    done = run(org_a, owner_a.user, dataset, {"blur_faces": "pixelate"}, [item])

    assert done.status == "done"
    after = stored(item).convert("RGB")
    assert after.size == photo.size and item.name == "astronaut.png"
    assert face_detector().detect(after) == []  # no face left to find
    assert after.getpixel((20, 400)) == photo.getpixel((20, 400))  # the rest of the picture is untouched
    event = AuditEvent.objects.get(action="item.anonymised")
    assert event.metadata["faces"] == 1 and event.metadata["operations"] == ["blur_faces"]
    assert NodeRun.objects.get(node_id="prep").output["preprocess"]["faces"] == 1


def test_blur_on_a_composed_picture_blurs_only_the_face():
    face = sample("astronaut").crop((150, 30, 300, 210))
    canvas = Image.new("RGB", (600, 400), (90, 140, 200))
    ImageDraw.Draw(canvas).rectangle((420, 250, 560, 380), fill="yellow")
    canvas.paste(face, (40, 60))

    result = process_image(png_bytes(canvas), {"blur_faces": "blur", "format": "png"}, max_pixels=10**8,
                           detector=face_detector())

    assert result.changed and len(result.faces) == 1
    x, y, *_ = result.faces[0]
    assert 40 <= x < 100 and 60 <= y < 120
    after = Image.open(io.BytesIO(result.data)).convert("RGB")
    assert after.getpixel((490, 315)) == (255, 255, 0)


# --- derive, and the next nodes --------------------------------------------------------------------------------


def test_derive_writes_a_new_item_and_the_next_node_works_on_it(org_a, owner_a, dataset, text_recipe):
    version = registered_classifier(org_a, owner_a.user, recipe_version=text_recipe[1])
    source = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (300, 150), "white"))
    source_blob = source.blob_id
    predict = {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}}

    done = run(org_a, owner_a.user, dataset, {"resize": "max_side", "max_side": 60, "mode": "derive",
                                              "folder": "anonymised/"}, [source], after=[predict])

    assert done.status == "done"
    derived = Item.objects.get(folder="/anonymised")
    assert derived.metadata["derived_from"]["item_id"] == source.pk
    assert stored(derived).size == (60, 30)
    source.refresh_from_db()
    assert source.blob_id == source_blob
    assert NodeRun.objects.get(node_id="predict").item_id == derived.pk
    assert Annotation.objects.filter(item=derived, source="model").exists()
    assert AuditEvent.objects.filter(action="item.derived", target_id=str(derived.pk)).exists()

    again = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=done.pipeline,
                                               item_ids=[derived.pk])  # as an item_added trigger would
    drain()
    assert NodeRun.objects.get(run=again, node_id="prep").output == {
        "stop": True, "preprocess": {"skipped": "derived by this pipeline"}}
    assert Item.objects.filter(folder="/anonymised").count() == 1


# --- the filter node's NMS --------------------------------------------------------------------------------------


def test_filter_nms_keeps_the_best_box_of_a_label_and_deletes_the_overlapping_proposals(
        org_a, owner_a, dataset, text_recipe):
    from apps.automation.services import model_create, model_version_register

    detector = constant_detector([[8, 24, 40, 40], [10, 26, 40, 40], [9, 25, 40, 40]], [0.9, 0.8, 0.7], [1, 1, 0])
    model = model_create(org=org_a, actor=owner_a.user, name="Street", task_type="detection",
                         recipe=text_recipe[0])
    version = model_version_register(
        org=org_a, actor=owner_a.user, model=model, file=upload(to_bytes(detector)),
        input_spec={"size": [64, 64], "resize": "letterbox"},
        decoder={"kind": "boxes_scores_labels", "iou_threshold": 0.99},
        label_map={"0": "person", "1": "car"}, recipe_version=text_recipe[1])
    item = uploaded(org_a, owner_a.user, dataset, Image.new("RGB", (128, 64), "white"))
    nodes = [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
             {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}},
             {"id": "nms", "type": "filter", "config": {"nms_iou": 0.5}}]
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="NMS", dataset=dataset, graph={
        "nodes": nodes, "edges": [{"from": "start", "to": "predict"}, {"from": "predict", "to": "nms"}]})
    pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline, item_ids=[item.pk])

    drain()

    output = NodeRun.objects.get(node_id="nms").output
    assert sorted((s["label"], s["confidence"]) for s in output["suggestions"]) == [("car", 0.9), ("person", 0.7)]
    assert sorted(Annotation.objects.filter(item=item).values_list("label", "confidence")) == [
        ("car", 0.9), ("person", 0.7)]
