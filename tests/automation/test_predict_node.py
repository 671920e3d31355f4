"""The predict node over a message larger than the model's batch: batches are read, inferred and written in turn
(the next one inferring while the last one is written); an unreadable image fails alone, wherever it falls."""

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.annotations.models import Annotation
from apps.automation import pipeline_engine
from apps.automation.models import NodeRun, PreAnnotation
from apps.automation.pipelines import pipeline_create
from apps.datasets.intake import items_upload
from apps.datasets.models import Item
from apps.storage.services import blob_put
from tests.automation.factories import png_bytes, registered_classifier
from tests.automation.test_pipelines import drain
from tests.datasets.factories import DatasetFactory


class _Stream:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, size=-1):
        chunk = self.data[self.pos:] if size < 0 else self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        return chunk


def test_a_message_of_several_batches_writes_every_item_once_and_fails_the_unreadable_one(org_a, owner_a,
                                                                                        text_recipe):
    dataset = DatasetFactory(organization=org_a)
    version = registered_classifier(org_a, owner_a.user, recipe_version=text_recipe[1])
    assert version.signature["batch_size"] == 8
    files = [SimpleUploadedFile(f"{n:02}.png", png_bytes(Image.new("RGB", (32, 32), "white" if n % 2 else "black")),
                                content_type="image/png") for n in range(20)]
    items = sorted(items_upload(org=org_a, actor=owner_a.user, dataset=dataset, files=files), key=lambda i: i.pk)
    broken = items[11]  # in the second batch of eight
    Item.objects.filter(pk=broken.pk).update(blob=blob_put(org=org_a, stream=_Stream(b"not a png"),
                                                           mime="image/png"))
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "predict", "type": "predict", "config": {"model_version_id": version.pk}}],
             "edges": [{"from": "start", "to": "predict"}]}
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Pre-label", dataset=dataset, graph=graph)

    run = pipeline_engine.pipeline_run_start(org=org_a, actor=owner_a.user, pipeline=pipeline,
                                             item_ids=[i.pk for i in items])
    drain()

    rows = {r.item_id: r for r in NodeRun.objects.filter(run=run, node_id="predict")}
    assert rows[broken.pk].status == "failed" and "could not be read" in rows[broken.pk].error
    assert all(rows[i.pk].status == "done" for i in items if i != broken)
    assert sorted(PreAnnotation.objects.filter(model_version=version).values_list("item_id", flat=True)) == \
        [i.pk for i in items if i != broken]
    for item in items:
        labels = list(Annotation.objects.filter(item=item).values_list("label", flat=True))
        expected = [] if item == broken else ["car" if int(item.name[:2]) % 2 else "person"]
        assert labels == expected, item.name
        if item != broken:
            assert [s["label"] for s in rows[item.pk].output["suggestions"]] == expected
