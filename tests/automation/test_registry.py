"""Registering model versions: what a user sees for good files and for every kind of hostile one."""

import pickle
import zipfile
from io import BytesIO

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from apps.automation import registry
from apps.automation.models import ModelVersion
from apps.compliance.models import AuditEvent
from apps.storage.services import blob_read_bytes
from tests.automation.factories import (
    CLASSIFIER_SPEC,
    _model,
    classifier,
    constant_detector,
    constant_output,
    image_input,
    to_bytes,
    upload,
)


@pytest.fixture
def classification_model(api_for, owner_a, text_recipe):
    response = api_for(owner_a).post("/api/v1/models/", {"name": "Scenes", "task_type": "classification",
                                                         "recipe_id": text_recipe[0].pk}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def detection_model(api_for, owner_a, text_recipe):
    response = api_for(owner_a).post("/api/v1/models/", {"name": "Boxes", "task_type": "detection"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def post_version(client, model, data: bytes, *, spec=None, decoder=None, label_map=None, recipe_version=None,
                 name="model.onnx"):
    import json

    body = {"file": upload(data, name), "input_spec": json.dumps(spec or CLASSIFIER_SPEC),
            "decoder": json.dumps(decoder or {"kind": "softmax"}),
            "label_map": json.dumps(label_map if label_map is not None else {"0": "person", "1": "car"})}
    if recipe_version is not None:
        body["recipe_version_id"] = recipe_version.pk
    return client.post(f"/api/v1/models/{model['id']}/versions/", body, format="multipart")


def test_a_good_classifier_is_registered_encrypted_in_the_region_and_audited(api_for, owner_a, org_a, text_recipe,
                                                                             classification_model):
    data = to_bytes(classifier(3))

    response = post_version(api_for(owner_a), classification_model, data, recipe_version=text_recipe[1])

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["number"], body["status"], body["size"]) == (1, "ready", len(data))
    assert body["signature"]["batch_size"] == 8 and body["label_map"] == {"0": "person", "1": "car"}
    version = ModelVersion.objects.get(pk=body["id"])
    assert version.blob.region == org_a.region and blob_read_bytes(version.blob) == data
    assert AuditEvent.objects.filter(organization=org_a, action="model_version.registered",
                                     target_id=str(version.pk)).exists()
    listed = api_for(owner_a).get(f"/api/v1/models/{classification_model['id']}/versions/").json()
    assert [v["id"] for v in listed["results"]] == [version.pk]


def test_a_second_upload_is_the_next_version(api_for, owner_a, text_recipe, classification_model):
    client = api_for(owner_a)
    post_version(client, classification_model, to_bytes(classifier(3)), recipe_version=text_recipe[1])

    response = post_version(client, classification_model, to_bytes(classifier(2)), recipe_version=text_recipe[1])

    assert response.status_code == 201 and response.json()["number"] == 2


def _zip_bytes() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weights": [1, 2, 3]}))
    return buffer.getvalue()


def _bad_checker_model() -> bytes:
    # A Relu fed by a tensor nothing produces: onnx.checker refuses the graph.
    model = _model([helper.make_node("Relu", ["missing"], ["out"])], [image_input()],
                   [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])])
    return to_bytes(model)


def _external_data_model(location: str) -> bytes:
    model = classifier(3)
    weights = model.graph.initializer[0]
    weights.ClearField("raw_data")
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    entry = weights.external_data.add()
    entry.key, entry.value = "location", location
    return to_bytes(model)


class _Exploit:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("data,expected", [
    (b"\x00\x01garbage bytes that are no model at all \xff\xfe" * 20, "ONNX"),
    (pickle.dumps(_Exploit(), protocol=4), "pickle"),
    (pickle.dumps({"state_dict": [1.0, 2.0]}, protocol=2), "pickle"),
    (_zip_bytes(), "zip archive"),
    (b'{"not": "a model"}', "text file"),
    (_bad_checker_model(), "onnx.checker"),
    (_external_data_model("../../etc/passwd"), "outside the model's folder"),
    (_external_data_model("/etc/passwd"), "outside the model's folder"),
    (_external_data_model("weights.bin"), "external file"),
], ids=["garbage", "pickle-exploit", "pickle-v2", "torch-zip", "json", "checker", "dotdot", "absolute",
        "external"])
def test_hostile_files_are_refused_naming_the_file_and_nothing_is_kept(api_for, owner_a, org_a, text_recipe,
                                                                      classification_model, data, expected):
    response = post_version(api_for(owner_a), classification_model, data, recipe_version=text_recipe[1])

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert expected in response.json()["errors"]["file"][0]
    assert not ModelVersion.objects.exists()
    assert AuditEvent.objects.filter(organization=org_a, action="model_version.refused").exists()


def test_an_empty_file_is_refused(api_for, owner_a, text_recipe, classification_model):
    response = post_version(api_for(owner_a), classification_model, b"", recipe_version=text_recipe[1])

    assert response.status_code == 400 and "empty" in response.json()["errors"]["file"][0]


def test_a_file_over_the_size_cap_is_refused(api_for, owner_a, text_recipe, classification_model, monkeypatch):
    monkeypatch.setattr(registry, "MAX_MODEL_BYTES", 100)

    response = post_version(api_for(owner_a), classification_model, to_bytes(classifier(3)),
                            recipe_version=text_recipe[1])

    assert response.status_code == 400 and "limit" in response.json()["errors"]["file"][0]


def test_a_detector_without_labels_output_is_refused_naming_the_decoder(api_for, owner_a, text_recipe,
                                                                         detection_model):
    boxes = constant_output("boxes", np.zeros((2, 4)), size=(64, 64))

    response = post_version(api_for(owner_a), detection_model, to_bytes(boxes),
                            spec={"size": [64, 64]}, decoder={"kind": "boxes_scores_labels"},
                            label_map={"0": "car"}, recipe_version=text_recipe[1])

    assert response.status_code == 400
    assert "boxes, scores and labels" in response.json()["errors"]["decoder"][0]


def test_a_dense_output_too_narrow_for_its_classes_is_refused(api_for, owner_a, text_recipe, detection_model):
    narrow = constant_output("out", np.zeros((1, 5, 3)), size=(64, 64))  # rows of at most 5 values, 6 needed

    response = post_version(api_for(owner_a), detection_model, to_bytes(narrow), spec={"size": [64, 64]},
                            decoder={"kind": "dense"}, label_map={"0": "car", "1": "person"},
                            recipe_version=text_recipe[1])

    assert response.status_code == 400 and "decoder" in response.json()["errors"]


def test_a_classifier_output_with_fewer_classes_than_the_label_map_is_refused(api_for, owner_a, text_recipe,
                                                                              classification_model):
    response = post_version(api_for(owner_a), classification_model, to_bytes(classifier(2)),
                            label_map={"0": "person", "1": "car", "5": "car"}, recipe_version=text_recipe[1])

    assert response.status_code == 400 and "label_map" in response.json()["errors"]


def test_an_input_size_that_does_not_match_the_model_is_refused(api_for, owner_a, text_recipe,
                                                                classification_model):
    response = post_version(api_for(owner_a), classification_model, to_bytes(classifier(3)),
                            spec={"size": [64, 64], "resize": "stretch"}, recipe_version=text_recipe[1])

    assert response.status_code == 400 and "input_spec.size" in response.json()["errors"]


def test_a_model_that_crashes_on_its_trial_run_is_refused(api_for, owner_a, text_recipe, classification_model):
    # Reshape to a shape the input cannot take: valid for the checker, fails when it runs.
    shape = numpy_helper.from_array(np.array([7, 5], dtype=np.int64), "shape")
    crashing = _model([helper.make_node("Reshape", ["images", "shape"], ["logits"])], [image_input()],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], [shape])

    response = post_version(api_for(owner_a), classification_model, to_bytes(crashing),
                            recipe_version=text_recipe[1])

    assert response.status_code == 400 and "trial run" in response.json()["errors"]["file"][0]


def test_an_output_the_decoder_cannot_read_is_refused_after_the_trial_run(api_for, owner_a, text_recipe,
                                                                          detection_model):
    # Declares [N, 4] boxes but emits [2, 3] at run time: only the trial run can tell.
    model = constant_detector(np.zeros((2, 4)), [0.5, 0.5], [0, 0])
    model.graph.node[0].attribute[0].t.CopyFrom(numpy_helper.from_array(np.zeros((2, 3), dtype=np.float32)))

    response = post_version(api_for(owner_a), detection_model, to_bytes(model), spec={"size": [64, 64]},
                            decoder={"kind": "boxes_scores_labels"}, label_map={"0": "car"},
                            recipe_version=text_recipe[1])

    assert response.status_code == 400
    assert "decoder" in response.json()["errors"] or "file" in response.json()["errors"]


@pytest.mark.parametrize("field,value,error", [
    ("decoder", {"kind": "dense"}, "decoder.kind"),
    ("decoder", {"kind": "softmax", "top_k": "many"}, "decoder.top_k"),
    ("input_spec", {"size": [32, 32], "layout": "CHW"}, "input_spec.layout"),
    ("input_spec", {"size": [32, 32], "mean": [0, float("nan"), 0]}, "non_field_errors"),
    ("label_map", {"0": "unicorn"}, "label_map.0"),
    ("label_map", {"x": "car"}, "label_map.x"),
])
def test_bad_specs_name_their_field(api_for, owner_a, text_recipe, classification_model, field, value, error):
    kwargs = {"spec" if field == "input_spec" else field: value}

    response = post_version(api_for(owner_a), classification_model, to_bytes(classifier(3)),
                            recipe_version=text_recipe[1], **kwargs)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert error in errors or any(key.startswith(field) for key in errors), errors


def test_a_label_whose_tools_do_not_fit_the_decoder_is_refused(api_for, owner_a, text_recipe, detection_model):
    detector = constant_detector([[1, 1, 10, 10]], [0.9], [0])

    response = post_version(api_for(owner_a), detection_model, to_bytes(detector), spec={"size": [64, 64]},
                            decoder={"kind": "dbnet"}, label_map={"0": "person"}, recipe_version=text_recipe[1])

    assert response.status_code == 400 and "label_map.0" in response.json()["errors"]


def test_roles_without_model_manage_cannot_register(api_for, make_member, org_a, text_recipe, classification_model):
    from apps.tenancy.roles import Role

    annotator = make_member(org_a, Role.ANNOTATOR)

    response = post_version(api_for(annotator), classification_model, to_bytes(classifier(3)),
                            recipe_version=text_recipe[1])

    assert response.status_code in (403, 404) and not ModelVersion.objects.exists()
