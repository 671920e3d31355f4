"""The preprocess node's image work, on hostile bytes: anonymise faces, resize, re-encode (Pillow, no Django).

`process_image(data, ops)` runs the operations in a fixed order: faces are found and blurred on the full picture
(upright as its EXIF orientation says), then it is resized, then encoded. Every problem with the bytes (not an
image, a format outside IMAGE_FORMATS, a decompression bomb, a header past `max_pixels`, truncated or damaged
data) raises ImageOpError with a sentence for the node run's log; nothing is decoded before the size is checked.
"""

import io
import struct
from dataclasses import dataclass, field

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")  # the decoders intake accepts
OUTPUT_FORMATS = {"jpeg": ("JPEG", "image/jpeg", ".jpg"), "png": ("PNG", "image/png", ".png"),
                  "webp": ("WEBP", "image/webp", ".webp")}
_KEEP = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}  # other sources are written as PNG
FIT_MODES = ("contain", "cover", "stretch")
FACE_MARGIN = 0.15  # each side of a face box grows by this share of its size: hair, ears and chin go too
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                  Image.DecompressionBombError)


class ImageOpError(ValueError):
    pass


@dataclass
class Processed:
    data: bytes
    mime: str
    extension: str
    width: int
    height: int
    changed: bool  # False: nothing to do (no face, no resize, same format); `data` is then the input
    faces: list = field(default_factory=list)  # [x, y, w, h, confidence] in the source picture's pixels
    source_size: tuple[int, int] = (0, 0)


def open_checked(data: bytes, *, max_pixels: int) -> Image.Image:
    """The decoded picture, upright; ImageOpError for anything that is not a safe, whole image."""
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        raise ImageOpError("The content is not an image we can read (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF).") \
            from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageOpError(f"The image is too large to process safely: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise ImageOpError(f"The image header is damaged or truncated ({_why(exc)}).") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageOpError(f"The image header declares an empty picture ({width} x {height}).")
    if width * height > max_pixels:
        raise ImageOpError(f"The image is too large to process safely: {width} x {height} is "
                           f"{width * height / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:g}.")
    try:
        image.load()
        try:
            orientation = image.getexif().get(0x0112, 1)
        except _DECODE_ERRORS:
            orientation = 1  # a broken EXIF block costs the rotation, not the picture
        upright = ImageOps.exif_transpose(image) if orientation not in (1, None) else image
    except _DECODE_ERRORS as exc:
        raise ImageOpError(f"The image data is damaged or truncated ({_why(exc)}).") from None
    upright.format_source = image.format  # what it was, for "keep the format"
    upright.turned = orientation not in (1, None)  # the stored pixels were sideways or mirrored
    return upright


def _why(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return ImageOps.autocontrast(image.convert("F").convert("L")).convert("RGB")
    has_alpha = image.mode in ("LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def anonymise(image: Image.Image, faces, *, method: str) -> Image.Image:
    """Blurs ("blur") or pixelates ("pixelate") each face box, grown by FACE_MARGIN, in place of its pixels."""
    out = image.copy()
    for face in faces:
        w, h = face.x2 - face.x1, face.y2 - face.y1
        box = (max(0, int(face.x1 - w * FACE_MARGIN)), max(0, int(face.y1 - h * FACE_MARGIN)),
               min(out.width, int(face.x2 + w * FACE_MARGIN) + 1), min(out.height, int(face.y2 + h * FACE_MARGIN) + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        region = out.crop(box)
        side = max(region.size)
        if method == "pixelate":
            cells = max(1, side // 8)  # about 8 blocks across the face: no feature survives
            small = region.resize((max(1, region.width // cells), max(1, region.height // cells)),
                                  Image.Resampling.BOX)
            region = small.resize(region.size, Image.Resampling.NEAREST)
        else:
            region = region.filter(ImageFilter.GaussianBlur(radius=max(2.0, side / 5)))
        out.paste(region, box[:2])
    return out


def resized(image: Image.Image, op: dict) -> Image.Image:
    """`{"resize": "max_side", "max_side"}` shrinks (never enlarges) to fit a square of that side; `{"resize":
    "exact", "width", "height", "fit"}`: contain (whole picture, padded black / transparent), cover (fills, centre
    cropped) or stretch (aspect not kept)."""
    method = Image.Resampling.LANCZOS
    if op.get("resize") == "max_side":
        side = op["max_side"]
        if max(image.size) <= side:
            return image
        ratio = side / max(image.size)
        return image.resize((max(1, round(image.width * ratio)), max(1, round(image.height * ratio))), method)
    if op.get("resize") == "exact":
        size = (op["width"], op["height"])
        if image.size == size:
            return image
        fit = op.get("fit", "contain")
        if fit == "stretch":
            return image.resize(size, method)
        if fit == "cover":
            return ImageOps.fit(image, size, method)
        color = (0, 0, 0, 0) if image.mode == "RGBA" else (0, 0, 0)
        return ImageOps.pad(image, size, method, color=color)
    return image


def encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    pil_format = OUTPUT_FORMATS[fmt][0]
    if pil_format == "JPEG" and image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    out = io.BytesIO()
    if pil_format == "PNG":
        image.save(out, "PNG", optimize=True)
    elif pil_format == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def process_image(data: bytes, config: dict, *, max_pixels: int, detector=None) -> Processed:
    """Runs the node's operations (pipeline_preprocess.check_preprocess's config) over one picture."""
    image = open_checked(data, max_pixels=max_pixels)
    source_format, source_size = image.format_source, image.size
    work = _normalise_mode(image)
    faces, changed = [], False
    if config.get("blur_faces"):
        found = detector.detect(work, min_face_size=config.get("min_face_size", 20),
                                thresholds=(0.6, 0.7, config.get("face_confidence", 0.7)))
        faces = [[round(f.x1, 1), round(f.y1, 1), round(f.x2 - f.x1, 1), round(f.y2 - f.y1, 1),
                  round(f.confidence, 4)] for f in found]
        if found:
            work, changed = anonymise(work, found, method=config["blur_faces"]), True
    if config.get("resize"):
        before = work.size
        work = resized(work, config)
        changed = changed or work.size != before
    target = config.get("format") or _KEEP.get(source_format, "png")
    changed = changed or target != _KEEP.get(source_format) or image.turned
    if not changed:  # the stored bytes stay: no face, no size change, the same format, already upright
        return Processed(data, OUTPUT_FORMATS[target][1], OUTPUT_FORMATS[target][2], image.width, image.height,
                         False, faces, source_size)
    _, mime, extension = OUTPUT_FORMATS[target]
    return Processed(encode(work, target, config.get("quality", 90)), mime, extension, work.width, work.height,
                     True, faces, source_size)
