"""Tiny ONNX models built with onnx.helper, and models registered through the service like users do."""

import io
import secrets

import numpy as np
import onnx
from django.core.files.uploadedfile import SimpleUploadedFile
from onnx import TensorProto, helper, numpy_helper

from apps.automation.services import model_create, model_version_register

OPSET = [helper.make_opsetid("", 17)]
TEXT_SPEC = {
    "labels": [{"name": "text", "color": "#4e79a7", "hotkey": "1", "tools": ["polygon", "bbox"]},
               {"name": "car", "color": "#e15759", "hotkey": "2", "tools": ["bbox", "polygon", "mask",
                                                                            "classification"]},
               {"name": "person", "color": "#59a14f", "hotkey": "3", "tools": ["bbox", "classification"]}],
    "attributes": [], "instructions": "", "review": {"required": False, "sample_ratio": 0.0, "reject_reasons": []},
}


def to_bytes(model: onnx.ModelProto) -> bytes:
    return model.SerializeToString()


def _model(nodes, inputs, outputs, initializers=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="dlsaas-tests")
    model.ir_version = 8
    return model


def image_input(size=(32, 32), batch="N"):
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size[0], size[1]])


def classifier(classes: int = 3, size=(32, 32)) -> onnx.ModelProto:
    """Global average pool -> a fixed linear layer: logits [N, classes]; class 1 wins on bright images."""
    weights = np.zeros((3, classes), dtype=np.float32)
    weights[:, 1 % classes] = 3.0
    bias = np.zeros(classes, dtype=np.float32)
    return _model(
        [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
         helper.make_node("Gemm", ["flat", "w", "b"], ["logits"])],
        [image_input(size)], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )


def constant_detector(boxes, scores, labels, size=(64, 64)) -> onnx.ModelProto:
    """Ignores its image and emits known boxes (xyxy, model pixels), scores and labels, without a batch axis."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    nodes = [
        helper.make_node("Constant", [], ["boxes"], value=numpy_helper.from_array(boxes)),
        helper.make_node("Constant", [], ["scores"], value=numpy_helper.from_array(
            np.asarray(scores, dtype=np.float32))),
        helper.make_node("Constant", [], ["labels"], value=numpy_helper.from_array(
            np.asarray(labels, dtype=np.int64))),
    ]
    n = len(boxes)
    return _model(nodes, [image_input(size, batch=1)], [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [n, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [n]),
        helper.make_tensor_value_info("labels", TensorProto.INT64, [n])])


def constant_output(name: str, array, size=(32, 32), batch=1) -> onnx.ModelProto:
    array = np.asarray(array, dtype=np.float32)
    return _model([helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array))],
                  [image_input(size, batch=batch)],
                  [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(array.shape))])


def upload(data: bytes, name: str = "model.onnx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


CLASSIFIER_SPEC = {"size": [32, 32], "resize": "stretch", "mean": [0, 0, 0], "std": [1, 1, 1]}


def registered_classifier(org, actor, *, recipe_version, name=None):
    """A registered classification model version (labels car/person of TEXT_SPEC)."""
    model = model_create(org=org, actor=actor, name=name or f"Classifier {secrets.token_hex(3)}",
                         task_type="classification", recipe=recipe_version.recipe)
    return model_version_register(
        org=org, actor=actor, model=model, file=upload(to_bytes(classifier(3))), input_spec=CLASSIFIER_SPEC,
        decoder={"kind": "softmax", "top_k": 1}, label_map={"0": "person", "1": "car"}, recipe_version=recipe_version)


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
