"""Runs a model over images: pre-process, batch, infer, decode. Django-free (numpy, Pillow, onnxruntime)."""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .decoders import decode
from .preprocess import preprocess
from .sessions import LoadedSession
from .spec import DecoderSpec, InputSpec


def input_batch_size(session) -> int | None:
    """1 when the model's batch axis is fixed to 1, else None (any batch)."""
    dim = session.get_inputs()[0].shape[0] if session.get_inputs()[0].shape else None
    return dim if isinstance(dim, int) else None


@dataclass
class Predictor:
    loaded: LoadedSession
    input_spec: InputSpec
    decoder: DecoderSpec
    label_map: dict[int, str]
    model_version_id: int | None = None
    batch_size: int = 8

    def __post_init__(self):
        fixed = input_batch_size(self.loaded.session)
        if fixed is not None:
            self.batch_size = fixed
        self.input_name = self.loaded.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.loaded.session.get_outputs()]

    @property
    def provider(self) -> str:
        return self.loaded.provider

    def infer(self, tensors: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Raw outputs per image (each with a leading batch axis of 1), running `batch_size` at a time."""
        results = []
        for start in range(0, len(tensors), self.batch_size):
            chunk = tensors[start:start + self.batch_size]
            outputs = self.loaded.session.run(self.output_names, {self.input_name: np.stack(chunk)})
            for i in range(len(chunk)):
                results.append({name: (value[i:i + 1] if len(chunk) > 1 else value)
                                for name, value in zip(self.output_names, outputs, strict=True)})
        return results

    def predict(self, images: list[Image.Image]) -> list[list[dict]]:
        """Annotation dicts per image, in order. Images whose tensors differ in shape are batched apart."""
        prepared = self.prepare(images)
        return self.finish(prepared, self.run(prepared))

    # predict() in three stages, so that a caller can keep the model busy: prepare the next images and decode the
    # previous outputs on one thread while run() infers on another (onnxruntime releases the GIL).

    def prepare(self, images: list[Image.Image]) -> "Prepared":
        """Pre-processes the images per the input spec and groups them by tensor shape (CPU work, no model)."""
        prepared = [preprocess(image, self.input_spec) for image in images]
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for index, (tensor, _transform) in enumerate(prepared):
            by_shape[tensor.shape].append(index)
        return Prepared(tensors=[t for t, _ in prepared], transforms=[tr for _, tr in prepared],
                        groups=list(by_shape.values()))

    def run(self, prepared: "Prepared") -> list[dict[str, np.ndarray]]:
        """The model's raw outputs per image, in order (the only stage that runs the model)."""
        raw: list[dict[str, np.ndarray]] = [{} for _ in prepared.tensors]
        for indexes in prepared.groups:
            for i, outputs in zip(indexes, self.infer([prepared.tensors[i] for i in indexes]), strict=True):
                raw[i] = outputs
        return raw

    def finish(self, prepared: "Prepared", raw: list[dict[str, np.ndarray]]) -> list[list[dict]]:
        """Decodes the raw outputs into annotation dicts in image pixels, per image."""
        results = []
        for outputs, transform in zip(raw, prepared.transforms, strict=True):
            annotations = decode(outputs, transform, self.decoder, self.label_map)
            if self.model_version_id is not None:
                for annotation in annotations:
                    annotation["model_version"] = self.model_version_id
            results.append(annotations)
        return results


@dataclass
class Prepared:
    """Images made ready for the model: their tensors, how to map outputs back to each image, and which images
    share a tensor shape (batched together)."""
    tensors: list[np.ndarray]
    transforms: list
    groups: list[list[int]]
