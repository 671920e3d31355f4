"""Facts about media (size, duration) and thumbnails, read without loading whole files.

Images go through Pillow limited to the formats in `IMAGE_FORMATS`: Pillow's other plugins (EPS runs
Ghostscript, for one) never see uploaded bytes. `Image.open` reads the header only; the pixel count is
checked against `INTAKE_MAX_IMAGE_PIXELS` before any pixel is decoded, so a decompression bomb (a
small file that declares 50,000 x 50,000 pixels) is refused, not allocated.

Durations: WAV from its RIFF chunks, MP4/MOV/M4A from the `moov/mvhd` box, both found by seeking from
box to box (a 4 GB video is read a few hundred bytes at a time). Anything else answers None.
"""

import codecs
import io
import struct
from typing import IO, NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError

from .conf import setting
from .errors import IntakeError

# Formats whose decoders we accept on hostile input (JPEG includes MPO, the multi-picture JPEG phones write).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")
THUMBNAIL_QUALITY = 85
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)
_MAX_BOXES = 10_000  # boxes or chunks walked before giving up on a duration


class ImageFacts(NamedTuple):
    width: int
    height: int
    format: str  # Pillow's name: "JPEG", "PNG", ...


def image_facts(fileobj: IO[bytes], *, max_pixels: int | None = None) -> ImageFacts:
    """Width, height and format from the image header; no pixel is decoded.

    Raises IntakeError "image_too_large" past `max_pixels` (default INTAKE_MAX_IMAGE_PIXELS) and
    "corrupt" for content Pillow cannot read a header from.
    """
    with _open_image(fileobj, max_pixels) as image:
        return ImageFacts(image.width, image.height, image.format)


class MediaFacts(NamedTuple):
    width: int | None
    height: int | None
    duration: float | None  # seconds


def media_facts(fileobj: IO[bytes], *, kind: str, mime: str) -> MediaFacts:
    """What the Item row records about content already sniffed and checked: size for images (bombs and
    corrupt headers raise IntakeError), duration for audio and video when the container says."""
    if kind == "image":
        fileobj.seek(0)
        width, height, _format = image_facts(fileobj)
        return MediaFacts(width, height, None)
    if kind in ("audio", "video"):
        return MediaFacts(None, None, duration_seconds(fileobj, mime=mime))
    return MediaFacts(None, None, None)


def make_thumbnail(
    fileobj: IO[bytes], max_side: int = 256, *, max_pixels: int | None = None, quality: int = THUMBNAIL_QUALITY
) -> bytes:
    """A JPEG no larger than max_side on either side, upright as the camera's EXIF orientation says.

    JPEGs are decoded at a reduced scale (`Image.draft`), so a 40-megapixel photo costs a few MB.
    """
    with _open_image(fileobj, max_pixels) as image:
        try:
            orientation = image.getexif().get(ExifOrientation.TAG, 1)
        except _DECODE_ERRORS:
            orientation = 1  # a broken EXIF block costs the rotation, not the thumbnail
        try:
            image.draft("RGB", (max_side, max_side))
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
            thumb = _flatten_to_rgb(image)
        except Image.DecompressionBombError as exc:
            raise _too_large(str(exc)) from None
        except _DECODE_ERRORS as exc:
            raise IntakeError("corrupt", f"The image data is damaged or truncated ({_why(exc)}).") from None
        thumb = ExifOrientation.apply(thumb, orientation)
        out = io.BytesIO()
        thumb.save(out, "JPEG", quality=quality, optimize=True)
        return out.getvalue()


class ExifOrientation:
    TAG = 0x0112
    # EXIF orientation -> the transposes that make the picture upright (ImageOps.exif_transpose's table).
    METHODS = {
        2: (Image.Transpose.FLIP_LEFT_RIGHT,),
        3: (Image.Transpose.ROTATE_180,),
        4: (Image.Transpose.FLIP_TOP_BOTTOM,),
        5: (Image.Transpose.TRANSPOSE,),
        6: (Image.Transpose.ROTATE_270,),
        7: (Image.Transpose.TRANSVERSE,),
        8: (Image.Transpose.ROTATE_90,),
    }

    @classmethod
    def apply(cls, image: Image.Image, orientation: int) -> Image.Image:
        for method in cls.METHODS.get(orientation, ()):
            image = image.transpose(method)
        return image


def _open_image(fileobj: IO[bytes], max_pixels: int | None) -> Image.Image:
    cap = max_pixels if max_pixels is not None else setting("INTAKE_MAX_IMAGE_PIXELS")
    try:
        image = Image.open(fileobj, formats=IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(str(exc)) from None
    except UnidentifiedImageError:
        raise IntakeError(
            "corrupt", "The content is not an image we can read (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF)."
        ) from None
    except _DECODE_ERRORS as exc:
        raise IntakeError("corrupt", f"The image header is damaged or truncated ({_why(exc)}).") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise IntakeError("corrupt", f"The image header declares an empty picture ({width} x {height}).")
    if width * height > cap:
        image.close()
        raise _too_large(f"{width} x {height} is {width * height / 1e6:.0f} megapixels; the limit is {cap / 1e6:g}")
    return image


def _too_large(detail: str) -> IntakeError:
    return IntakeError("image_too_large", f"The image is too large to process safely: {detail}.")


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = ImageOps.autocontrast(image.convert("F").convert("L"))  # 16-bit and float scans: stretch to 8 bits
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


# --- Durations --------------------------------------------------------------------------------------
def duration_seconds(fileobj: IO[bytes], *, mime: str) -> float | None:
    """Seconds of audio or video, read from the container's header, or None when it does not say."""
    reader = _DURATION_READERS.get(mime)
    if reader is None:
        return None
    try:
        fileobj.seek(0)
        return reader(fileobj)
    except (OSError, struct.error, ValueError, OverflowError):
        return None


def wav_duration(fileobj: IO[bytes]) -> float | None:
    """From the `fmt ` chunk's byte rate and the `data` chunk's size (any codec: PCM, float, extensible)."""
    header = fileobj.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    byte_rate = None
    for _ in range(_MAX_BOXES):
        chunk = fileobj.read(8)
        if len(chunk) < 8:
            return None
        chunk_id, size = chunk[:4], int.from_bytes(chunk[4:8], "little")
        body_at = fileobj.tell()
        if chunk_id == b"fmt ":
            fmt = fileobj.read(16)
            if len(fmt) < 16:
                return None
            byte_rate = int.from_bytes(fmt[8:12], "little")
        elif chunk_id == b"data":
            if not byte_rate:
                return None
            end = fileobj.seek(0, io.SEEK_END)
            size = min(size, end - body_at)  # streaming writers leave 0xFFFFFFFF; a truncated file is shorter
            return max(size, 0) / byte_rate
        fileobj.seek(body_at + size + (size & 1))  # chunks are padded to an even length
    return None


def mp4_duration(fileobj: IO[bytes]) -> float | None:
    """From `moov/mvhd`: the movie's duration in its timescale. The `moov` box may follow `mdat`."""
    end = fileobj.seek(0, io.SEEK_END)
    moov = _find_box(fileobj, b"moov", 0, end)
    if moov is None:
        return None
    mvhd = _find_box(fileobj, b"mvhd", *moov)
    if mvhd is None:
        return None
    fileobj.seek(mvhd[0])
    body = fileobj.read(32)
    if len(body) < 4:
        return None
    if body[0] == 1:
        if len(body) < 32:
            return None
        timescale, duration = struct.unpack(">IQ", body[20:32])
        unknown = 0xFFFFFFFFFFFFFFFF
    else:
        if len(body) < 20:
            return None
        timescale, duration = struct.unpack(">II", body[12:20])
        unknown = 0xFFFFFFFF
    if not timescale or duration == unknown:
        return None
    return duration / timescale


def _find_box(fileobj: IO[bytes], wanted: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(body start, body end) of the first box of type `wanted` between start and end, by seeking."""
    position = start
    for _ in range(_MAX_BOXES):
        if position + 8 > end:
            return None
        fileobj.seek(position)
        header = fileobj.read(16)
        if len(header) < 8:
            return None
        size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
        header_size = 8
        if size == 1:
            if len(header) < 16:
                return None
            size, header_size = int.from_bytes(header[8:16], "big"), 16
        elif size == 0:
            size = end - position  # "to the end of the enclosing box"
        if size < header_size or position + size > end:
            return None  # a box that claims more than its parent holds: corrupt, stop
        if box_type == wanted:
            return position + header_size, position + size
        position += size
    return None


_DURATION_READERS = {
    "audio/wav": wav_duration,
    "video/mp4": mp4_duration,
    "video/quicktime": mp4_duration,
    "audio/mp4": mp4_duration,
}


# --- Text -------------------------------------------------------------------------------------------
class TextFacts(NamedTuple):
    lines: int
    charset: str  # "utf-8"; text that does not decode is refused rather than guessed at


def text_facts(fileobj: IO[bytes], *, chunk_size: int = 1 << 20) -> TextFacts:
    """Line count of UTF-8 text, read in chunks; IntakeError "bad_encoding" when it is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, last = 0, b""
    offset = 0
    while chunk := fileobj.read(chunk_size):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise IntakeError(
                "bad_encoding", f"The text is not valid UTF-8 (at byte {offset + exc.start}); save it as UTF-8."
            ) from None
        lines += chunk.count(b"\n")
        last = chunk[-1:]
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise IntakeError("bad_encoding", "The text ends in the middle of a UTF-8 character.") from None
    if last and last != b"\n":
        lines += 1
    return TextFacts(lines, "utf-8")
