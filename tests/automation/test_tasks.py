"""Pre-annotation: the gpu actor writes suggestions once however often it runs, on its organisation's region queue."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from dramatiq.brokers.stub import StubBroker
from PIL import Image

from apps.annotations.models import Annotation, AnnotationRevision
from apps.annotations.services import annotation_update
from apps.automation import tasks
from apps.automation.models import PreAnnotation
from apps.automation.services import model_create, model_version_register, preannotate_request
from apps.compliance.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.core.outbox import relay_pending
from apps.datasets.intake import items_upload
from tests.automation.factories import constant_detector, png_bytes, to_bytes, upload
from tests.datasets.factories import DatasetFactory
from tests.factories import OrganizationFactory


@pytest.fixture
def photo_item(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a)
    image = Image.new("RGB", (128, 64), "white")
    return items_upload(org=org_a, actor=owner_a.user, dataset=dataset,
                        files=[SimpleUploadedFile("street.png", png_bytes(image), content_type="image/png")])[0]


def register_detector(org, actor, recipe_version):
    # Model input 64x64, letterboxed: a 128x64 image is scaled by 0.5 and padded 16 px top and bottom.
    detector = constant_detector([[8, 24, 40, 40], [10, 26, 40, 40], [50, 20, 60, 30]], [0.9, 0.8, 0.7], [1, 1, 0])
    model = model_create(org=org, actor=actor, name="Street detector", task_type="detection",
                         recipe=recipe_version.recipe)
    return model_version_register(org=org, actor=actor, model=model, file=upload(to_bytes(detector)),
                                  input_spec={"size": [64, 64], "resize": "letterbox"},
                                  decoder={"kind": "boxes_scores_labels", "iou_threshold": 0.5},
                                  label_map={"0": "person", "1": "car"}, recipe_version=recipe_version)


def suggestions(item):
    return Annotation.objects.filter(item=item, source="model", review_state="proposed")


def test_the_actor_run_twice_leaves_one_set_of_suggestions(org_a, owner_a, text_recipe, photo_item):
    version = register_detector(org_a, owner_a.user, text_recipe[1])

    tasks.preannotate_items(org_a.pk, version.pk, [photo_item.pk], owner_a.user_id)
    tasks.preannotate_items(org_a.pk, version.pk, [photo_item.pk], owner_a.user_id)

    rows = sorted(suggestions(photo_item).values_list("label", "geometry", "confidence"), key=lambda r: r[0])
    assert rows == [("car", {"x": 16.0, "y": 16.0, "w": 64.0, "h": 32.0}, 0.9),
                    ("person", {"x": 100.0, "y": 8.0, "w": 20.0, "h": 20.0}, 0.7)]
    assert PreAnnotation.objects.get(item=photo_item, model_version=version).runs == 2
    assert AnnotationRevision.objects.filter(item=photo_item, action="deleted").count() == 2
    assert AuditEvent.objects.filter(organization=org_a, action="model.preannotated").count() == 2


def test_an_accepted_suggestion_survives_a_rerun(org_a, owner_a, text_recipe, photo_item):
    version = register_detector(org_a, owner_a.user, text_recipe[1])
    tasks.preannotate_items(org_a.pk, version.pk, [photo_item.pk], owner_a.user_id)
    car = suggestions(photo_item).get(label="car")
    annotation_update(org=org_a, actor=owner_a.user, annotation=car, changes={"review_state": "", "version": 1})

    tasks.preannotate_items(org_a.pk, version.pk, [photo_item.pk], owner_a.user_id)

    assert Annotation.objects.filter(item=photo_item, pk=car.pk, review_state="").exists()
    assert suggestions(photo_item).count() == 2


def test_an_eu_organisations_preannotation_lands_on_the_eu_gpu_queue_only(org_a, owner_a, text_recipe, photo_item):
    assert org_a.region == "eu"
    version = register_detector(org_a, owner_a.user, text_recipe[1])
    broker = StubBroker()
    for queue in ("gpu", "gpu.eu", "gpu.us", "default"):
        broker.declare_queue(queue)

    preannotate_request(org=org_a, actor=owner_a.user, model_version=version, item_ids=[photo_item.pk])
    row = OutboxMessage.objects.get(actor_name="preannotate_items__eu")
    relay_pending(ids=[row.pk], broker=broker)

    assert row.queue_name == "gpu.eu"
    assert broker.queues["gpu.eu"].qsize() == 1
    assert [broker.queues[q].qsize() for q in ("gpu", "gpu.us", "default")] == [0, 0, 0]


def test_a_us_organisation_gets_the_us_actor(db):
    org = OrganizationFactory(region="us")

    actor = tasks.PREANNOTATE[org.region]

    assert (actor.queue_name, actor.actor_name) == ("gpu.us", "preannotate_items__us")


def test_preannotating_another_tenants_item_is_refused(org_a, owner_a, org_b, owner_b, text_recipe):
    version = register_detector(org_a, owner_a.user, text_recipe[1])
    dataset_b = DatasetFactory(organization=org_b)
    image = SimpleUploadedFile("b.png", png_bytes(Image.new("RGB", (8, 8))), content_type="image/png")
    foreign = items_upload(org=org_b, actor=owner_b.user, dataset=dataset_b, files=[image])[0]

    with pytest.raises(Exception) as caught:
        preannotate_request(org=org_a, actor=owner_a.user, model_version=version, item_ids=[foreign.pk])

    assert "item_ids" in str(caught.value)
    assert not OutboxMessage.objects.filter(actor_name__startswith="preannotate").exists()


def test_the_api_queues_preannotation(api_for, org_a, owner_a, text_recipe, photo_item):
    version = register_detector(org_a, owner_a.user, text_recipe[1])

    response = api_for(owner_a).post(f"/api/v1/model-versions/{version.pk}/preannotate/",
                                     {"item_ids": [photo_item.pk]}, format="json")

    assert response.status_code == 202 and response.json() == {"queued": 1}
    assert OutboxMessage.objects.get(actor_name="preannotate_items__eu").args == [
        org_a.pk, version.pk, [photo_item.pk], owner_a.user_id]


def test_the_runtime_reports_the_provider_that_ran(org_a, owner_a, text_recipe, photo_item):
    from apps.automation.inference import predictor_for
    from apps.automation.runtime import SessionCache

    version = register_detector(org_a, owner_a.user, text_recipe[1])
    cache = SessionCache(capacity=1, device="cuda")  # this machine has no GPU: onnxruntime falls back

    predictor = predictor_for(version, cache=cache)

    assert predictor.provider == "CPUExecutionProvider"
    assert predictor.predict([Image.fromarray(np.zeros((64, 128, 3), dtype=np.uint8))])[0][0]["model_version"] == \
        version.pk
