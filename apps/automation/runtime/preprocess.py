"""Images to model input tensors (Pillow and numpy), and the transform that maps model pixels back to the image."""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .spec import InputSpec


@dataclass(frozen=True)
class Transform:
    """Model pixel (mx, my) -> image pixel ((mx - pad_x) / sx, (my - pad_y) / sy)."""

    sx: float
    sy: float
    pad_x: float
    pad_y: float
    width: int  # of the original image
    height: int
    input_width: int  # of the model input
    input_height: int

    def to_image(self, xs, ys):
        x = (np.asarray(xs, dtype=np.float64) - self.pad_x) / self.sx
        y = (np.asarray(ys, dtype=np.float64) - self.pad_y) / self.sy
        return np.clip(x, 0, self.width), np.clip(y, 0, self.height)


def _target_size(spec: InputSpec, width: int, height: int) -> tuple[int, int]:
    """(width, height) of the resized image before any padding."""
    if spec.resize == "stretch":
        return spec.size[1], spec.size[0]
    if spec.resize == "letterbox":
        ratio = min(spec.size[0] / height, spec.size[1] / width)
        return max(1, round(width * ratio)), max(1, round(height * ratio))
    if spec.limit_type == "min":
        side = min(width, height)
        ratio = spec.limit_side / side if side < spec.limit_side else 1.0
    else:
        side = max(width, height)
        ratio = spec.limit_side / side if side > spec.limit_side else 1.0
    ratio = min(ratio, spec.max_side / max(width, height))
    m = spec.multiple_of
    return max(m, round(width * ratio / m) * m), max(m, round(height * ratio / m) * m)


def preprocess(image: Image.Image, spec: InputSpec) -> tuple[np.ndarray, Transform]:
    """One image -> (tensor without batch axis, in the spec's layout, float32; its Transform)."""
    mode = "L" if spec.color == "L" else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    width, height = image.size
    new_w, new_h = _target_size(spec, width, height)
    resized = image if (new_w, new_h) == (width, height) else image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if spec.color == "BGR":
        pixels = pixels[:, :, ::-1]
    pad_x = pad_y = 0
    if spec.resize == "letterbox":
        out_h, out_w = spec.size
        pad_x, pad_y = (out_w - new_w) // 2, (out_h - new_h) // 2
        canvas = np.full((out_h, out_w, pixels.shape[2]), float(spec.pad_value), dtype=np.float32)
        canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = pixels
        pixels = canvas
    # (p * scale - mean) / std as one multiply-add per pixel.
    std = np.asarray(spec.std, dtype=np.float32)
    gain = np.float32(spec.scale) / std
    offset = np.asarray(spec.mean, dtype=np.float32) / std
    tensor = pixels * gain - offset
    if spec.layout == "NCHW":
        tensor = tensor.transpose(2, 0, 1)
    tensor = np.ascontiguousarray(tensor, dtype=np.float32)
    transform = Transform(sx=new_w / width, sy=new_h / height, pad_x=pad_x, pad_y=pad_y, width=width, height=height,
                          input_width=pixels.shape[1], input_height=pixels.shape[0])
    return tensor, transform
