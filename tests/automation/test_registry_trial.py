"""The upload's trial run is bounded: a model that computes without end is stopped at DLSAAS_MODEL_TRIAL_SECONDS and
refused with a 400 on the file; the request, and the process serving it, carry on."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from apps.automation.models import ModelVersion
from apps.compliance.models import AuditEvent
from tests.automation.factories import CLASSIFIER_SPEC, _model, classifier, image_input, to_bytes, upload


def endless_classifier():
    """Mean colour [N, 3] through a Loop of 10^15 iterations (Abs each time): valid, and never done."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Abs", ["v_in"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["N", 3])])
    nodes = [helper.make_node("ReduceMean", ["images"], ["pooled"], axes=[2, 3], keepdims=0),
             helper.make_node("Loop", ["trips", "go", "pooled"], ["logits"], body=body)]
    initializers = [numpy_helper.from_array(np.array(10**15, dtype=np.int64), "trips"),
                    numpy_helper.from_array(np.array(True), "go")]
    return _model(nodes, [image_input()], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
                  initializers)


@pytest.fixture
def classification_model(api_for, owner_a, text_recipe):
    response = api_for(owner_a).post("/api/v1/models/", {"name": "Scenes", "task_type": "classification",
                                                         "recipe_id": text_recipe[0].pk}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def post_version(client, model, data: bytes, recipe_version):
    return client.post(f"/api/v1/models/{model['id']}/versions/", {
        "file": upload(data, "endless.onnx"), "input_spec": '{"size": [32, 32], "resize": "stretch"}',
        "decoder": '{"kind": "softmax"}', "label_map": '{"0": "person", "1": "car"}',
        "recipe_version_id": recipe_version.pk}, format="multipart")


def test_a_model_whose_trial_run_does_not_end_is_stopped_and_refused(api_for, owner_a, text_recipe,
                                                                     classification_model, settings):
    settings.MODEL_TRIAL_SECONDS = 1

    response = post_version(api_for(owner_a), classification_model, to_bytes(endless_classifier()), text_recipe[1])

    assert response.status_code == 400
    assert response.json()["errors"]["file"][0].startswith(
        "The trial run of 'endless.onnx' on one sample image took longer than the 1 s allowed")
    assert not ModelVersion.objects.filter(model_id=classification_model["id"]).exists()
    refused = AuditEvent.objects.get(action="model_version.refused")
    assert refused.metadata["field"] == "file" and refused.metadata["filename"] == "endless.onnx"


def test_a_model_that_runs_in_time_is_registered_with_the_child_s_findings(api_for, owner_a, text_recipe,
                                                                         classification_model, settings):
    settings.MODEL_TRIAL_SECONDS = 30

    response = post_version(api_for(owner_a), classification_model, to_bytes(classifier(3)), text_recipe[1])

    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(model_id=classification_model["id"])
    assert version.signature["batch_size"] == 8 and version.input_spec["size"] == CLASSIFIER_SPEC["size"]
