"""Checks an uploaded model file before it is registered. Every refusal is a RegistryError(field, message).

In order: the size cap; formats that execute code when loaded (Python pickles, PyTorch/zip archives) and other
non-ONNX files; what `onnx.load` rejects; external data (refused: an upload is one self-contained file, and a
location that is absolute, holds `..` or leaves the model's folder is named as such); custom operator domains;
`onnx.checker`; the graph's input against the input spec; its outputs against the decoder; then one trial run on a
synthetic image with onnxruntime (CPU), decoded like a real one, so a crash or a wrong output shape refuses it.
The upload path runs the trial in a child process with a deadline (trial.py, DLSAAS_MODEL_TRIAL_SECONDS).
"""

import posixpath
from dataclasses import dataclass

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from PIL import Image

from .runtime import DecoderError, DecoderSpec, InputSpec, Predictor, create_session, decode, preprocess
from .runtime.engine import input_batch_size

MAX_MODEL_BYTES = 512 * 1024 * 1024
ALLOWED_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft"}
FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}


class RegistryError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Inspection:
    signature: dict
    provider: str


def _sniff(data: bytes) -> str | None:
    """A name for a known non-ONNX format, from its first bytes."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "a Python pickle (it runs code when loaded)"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "a zip archive (a PyTorch checkpoint or TorchScript file runs code when loaded)"
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        return "an HDF5 file (Keras)"
    if data[:4] == b"GGUF":
        return "a GGUF file"
    if data[:2] == b"\x1f\x8b":
        return "a gzip archive"
    if len(data) > 9 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") < len(data):
        return "a safetensors file (weights without a graph)"
    if data.lstrip()[:1] in (b"{", b"<", b"#"):
        return "a text file"
    return None


def _dims(value_info) -> list:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def _external_locations(model: onnx.ModelProto):
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                tensors.append(attribute.t)
            tensors.extend(attribute.tensors)
    for sparse in model.graph.sparse_initializer:
        tensors.extend([sparse.values, sparse.indices])
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            entries = {e.key: e.value for e in tensor.external_data}
            yield tensor.name, entries.get("location", "")


def _check_external_data(model: onnx.ModelProto) -> None:
    for name, location in _external_locations(model):
        normal = posixpath.normpath(location.replace("\\", "/")) if location else ""
        if (not location or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":")
                or ".." in location.replace("\\", "/").split("/") or normal.startswith("..")):
            raise RegistryError("file", f"Tensor {name!r} keeps its data at {location!r}, outside the model's "
                                        "folder: refused.")
        raise RegistryError("file", f"Tensor {name!r} keeps its data in an external file ({location!r}): upload "
                                    "one self-contained .onnx file (onnx.save with save_as_external_data=False).")


def load_model(data: bytes, *, max_bytes: int | None = None) -> onnx.ModelProto:
    cap = MAX_MODEL_BYTES if max_bytes is None else max_bytes
    if not data:
        raise RegistryError("file", "The file is empty.")
    if len(data) > cap:
        raise RegistryError("file", f"The file is larger than the {cap // (1024 * 1024)} MB limit for models.")
    kind = _sniff(data)
    if kind:
        raise RegistryError("file", f"This is {kind}, not an ONNX model: only .onnx files are accepted.")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise RegistryError("file", f"Not an ONNX model: onnx.load refused it ({type(exc).__name__}).") from None
    if not model.HasField("graph") or not model.graph.node or not model.ir_version:
        raise RegistryError("file", "Not an ONNX model: it has no graph (is it another kind of file?).")
    _check_external_data(model)
    domains = {node.domain for node in model.graph.node} | {o.domain for o in model.opset_import}
    unknown = sorted(domains - ALLOWED_DOMAINS)
    if unknown:
        raise RegistryError("file", f"Operators of custom domains are not accepted: {', '.join(unknown)}.")
    if model.functions:
        raise RegistryError("file", "Model-local functions are not accepted.")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as exc:
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise RegistryError("file", f"onnx.checker refused the model: {message}") from None
    return model


def _graph_inputs(model: onnx.ModelProto):
    initializers = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def check_input(model: onnx.ModelProto, spec: InputSpec) -> dict:
    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        raise RegistryError("file", f"An image model has one input; this one has {len(inputs)} "
                                    f"({', '.join(i.name for i in inputs)}).")
    tensor = inputs[0]
    dims = _dims(tensor)
    if tensor.type.tensor_type.elem_type not in FLOAT_TYPES or len(dims) != 4:
        raise RegistryError("file", f"The input {tensor.name!r} must be a float tensor with 4 dimensions "
                                    f"(batch, channels and size); it is {dims}.")
    channel_axis, spatial = (1, (2, 3)) if spec.layout == "NCHW" else (3, (1, 2))
    if isinstance(dims[channel_axis], int) and dims[channel_axis] != spec.channels:
        raise RegistryError("input_spec.layout", f"The input is {dims}: with layout {spec.layout} it has "
                                                 f"{dims[channel_axis]} channels, not {spec.channels}.")
    fixed = [dims[a] for a in spatial]
    if all(isinstance(d, int) for d in fixed):
        if spec.resize == "limit":
            raise RegistryError("input_spec.resize", f"The model takes a fixed size {fixed}: use letterbox or "
                                                     "stretch with that size.")
        if list(spec.size) != fixed:
            raise RegistryError("input_spec.size", f"The model takes [height, width] = {fixed}, not "
                                                   f"{list(spec.size)}.")
    return {"name": tensor.name, "shape": dims}


def check_outputs(model: onnx.ModelProto, decoder: DecoderSpec, label_map: dict[int, str]) -> list[dict]:
    outputs = [{"name": o.name, "shape": _dims(o)} for o in model.graph.output]
    names = [o["name"] for o in outputs]
    ranks = {o["name"]: len(o["shape"]) for o in outputs}
    shapes = {o["name"]: o["shape"] for o in outputs}
    kind = decoder.kind
    classes = max(label_map) + 1 if label_map else 0

    described = ", ".join(f"{o['name']} {o['shape']}" for o in outputs)

    def refuse(message):
        raise RegistryError("decoder", f"{message} (the model's outputs: {described}).")

    if kind == "boxes_scores_labels":
        wanted = decoder.get("outputs") or {}
        hints = {"boxes": ("box",), "scores": ("score", "conf"), "labels": ("label", "class")}
        for role, role_hints in hints.items():
            name = wanted.get(role) or next((n for n in names if any(h in n.lower() for h in role_hints)), None)
            if name is None or name not in names:
                refuse(f"A boxes_scores_labels detector needs separate boxes, scores and labels outputs; "
                       f"none is the {role}")
            shape = shapes[name]
            if role == "boxes" and (len(shape) not in (2, 3) or (isinstance(shape[-1], int) and shape[-1] != 4)):
                refuse(f"The boxes output {name!r} must be [N, 4] or [1, N, 4]")
            if role != "boxes" and len(shape) not in (1, 2):
                refuse(f"The {role} output {name!r} must be [N] or [1, N]")
        return outputs
    if len(outputs) != 1:
        refuse(f"The {kind} decoder reads one output; the model has {len(outputs)}")
    name, shape = names[0], shapes[names[0]]
    if kind == "softmax":
        if ranks[name] != 2:
            refuse("A classifier's output is [N, classes]")
        if isinstance(shape[1], int) and classes > shape[1]:
            raise RegistryError("label_map", f"The model has {shape[1]} classes; the label map names index "
                                             f"{classes - 1}.")
    elif kind == "dense":
        if ranks[name] not in (2, 3):
            refuse("A dense detector's output is [N, 4+C] or [1, 4+C, N]")
        extra = 5 if decoder.get("objectness") else 4
        fixed = [d for d in shape[-2:] if isinstance(d, int)]
        if len(fixed) == 2 and max(fixed) < extra + max(classes, 1):
            refuse(f"A dense detector's rows hold {extra} box values and one score per class (at least "
                   f"{extra + max(classes, 1)} values)")
    elif kind == "dbnet":
        if ranks[name] not in (3, 4) or (ranks[name] == 4 and isinstance(shape[1], int) and shape[1] != 1):
            refuse("A DBNet text detector's output is a probability map [N, 1, H, W]")
    elif kind == "mask":
        if ranks[name] not in (3, 4):
            refuse("A segmentation output is [N, C, H, W] scores or [N, H, W] classes")
        if ranks[name] == 4 and isinstance(shape[1], int) and shape[1] > 1 and classes > shape[1]:
            raise RegistryError("label_map", f"The model has {shape[1]} classes; the label map names index "
                                             f"{classes - 1}.")
    elif kind == "embedding" and ranks[name] != 2:
        refuse("An embedding model's output is [N, D]")
    return outputs


def _synthetic_image(spec: InputSpec) -> Image.Image:
    rng = np.random.default_rng(7)
    height, width = (spec.size if spec.size else (240, 320))
    pixels = rng.integers(0, 256, size=(max(8, height // 2 + 3), max(8, width // 2 + 5), 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def trial_run(data: bytes, spec: InputSpec, decoder: DecoderSpec, label_map: dict[int, str]) -> tuple[int, str]:
    """Runs the model once (twice batched when its batch axis is free) on a synthetic image and decodes the
    result. Returns (the batch size to use, the provider). A crash or an output the decoder cannot read refuses."""
    try:
        loaded = create_session(data, device="cpu", threads=1)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise RegistryError("file", f"onnxruntime cannot load the model: {str(exc)[:300]}") from None
    fixed = input_batch_size(loaded.session)
    batch = 2 if fixed is None else fixed
    image = _synthetic_image(spec)
    tensor, transform = preprocess(image, spec)
    name = loaded.session.get_inputs()[0].name
    try:
        raw = loaded.session.run(None, {name: np.stack([tensor] * batch)})
    except Exception as exc:
        raise RegistryError("file", f"The model failed its trial run on a sample image: {str(exc)[:300]}") from None
    output_names = [o.name for o in loaded.session.get_outputs()]
    batch_size = 8 if fixed is None else fixed
    if batch > 1 and any(np.asarray(v).ndim == 0 or np.asarray(v).shape[0] != batch for v in raw):
        batch_size = 1  # outputs without a batch axis: run one image at a time
    predictor = Predictor(loaded, spec, decoder, label_map, batch_size=batch_size)
    try:
        outputs = predictor.infer([tensor])[0] if batch_size == 1 else {
            n: np.asarray(v)[:1] for n, v in zip(output_names, raw, strict=True)}
        decode(outputs, transform, decoder, label_map)
    except DecoderError as exc:
        raise RegistryError("decoder", f"The trial run's output does not fit the {decoder.kind} decoder: "
                                       f"{exc}") from None
    except Exception as exc:
        raise RegistryError("file", f"The model failed its trial run on a sample image: {str(exc)[:300]}") from None
    return batch_size, loaded.provider


def inspect_model(data: bytes, *, spec: InputSpec, decoder: DecoderSpec, label_map: dict[int, str],
                  max_bytes: int | None = None, trial_seconds: float | None = None, filename: str = "") -> Inspection:
    """All the checks. With `trial_seconds`, the trial run is done in a child process stopped at that deadline
    (trial.py); without, in this process."""
    from .trial import TrialError, trial_run_bounded

    model = load_model(data, max_bytes=max_bytes)
    model_input = check_input(model, spec)
    outputs = check_outputs(model, decoder, label_map)
    if trial_seconds is None:
        batch_size, provider = trial_run(data, spec, decoder, label_map)
    else:
        try:
            batch_size, provider = trial_run_bounded(data, spec, decoder, label_map, seconds=trial_seconds,
                                                     filename=filename)
        except TrialError as exc:
            raise RegistryError(exc.field, exc.message) from None
    signature = {"input": model_input, "outputs": outputs, "batch_size": batch_size,
                 "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0),
                 "ir_version": model.ir_version, "producer": f"{model.producer_name} {model.producer_version}".strip()}
    return Inspection(signature=signature, provider=provider)
