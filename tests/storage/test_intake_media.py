"""Images, audio and video: facts from headers, bombs refused before a pixel is allocated."""

import io
import random
import struct
import wave
import zlib

import pytest
from PIL import Image, JpegImagePlugin

from apps.storage.intake import IntakeError, duration_seconds, image_facts, make_thumbnail, media_facts, text_facts
from apps.storage.intake.media import mp4_duration, wav_duration


def encode(image: Image.Image, fmt: str, **options) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    out.seek(0)
    return out


def noise(size: tuple[int, int]) -> Image.Image:
    rng = random.Random(7)
    return Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))


def png_declaring(width: int, height: int) -> io.BytesIO:
    """A PNG of a few hundred bytes whose header claims width x height pixels: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return io.BytesIO(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


class CountingReader(io.RawIOBase):
    """A file that counts the bytes read from it, to prove what was not read."""

    def __init__(self, raw):
        self.raw, self.bytes_read = raw, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self.raw.seek(offset, whence)

    def tell(self):
        return self.raw.tell()

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


# --- Image facts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_image_facts_read_the_size_and_format(fmt):
    facts = image_facts(encode(Image.new("RGB", (640, 480), "green"), fmt))

    assert (facts.width, facts.height, facts.format) == (640, 480, fmt)


def test_image_facts_decode_no_pixels():
    whole = encode(noise((256, 256)), "JPEG", quality=95).getvalue()
    header_and_a_little = io.BytesIO(whole[: len(whole) // 4])

    facts = image_facts(header_and_a_little)

    assert (facts.width, facts.height) == (256, 256)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_over_the_cap_is_refused_in_words():
    bomb = png_declaring(12_000, 10_000)  # 120 megapixels in a few hundred bytes

    with pytest.raises(IntakeError) as caught:
        image_facts(bomb)

    assert caught.value.code == "image_too_large"
    assert "12000 x 10000 is 120 megapixels; the limit is 100" in str(caught.value)


def test_a_bomb_past_pillows_own_limit_is_refused_too():
    with pytest.raises(IntakeError) as caught:
        image_facts(png_declaring(100_000, 100_000), max_pixels=10**12)

    assert caught.value.code == "image_too_large"


def test_the_pixel_cap_comes_from_the_settings(settings):
    settings.INTAKE_MAX_IMAGE_PIXELS = 1_000

    with pytest.raises(IntakeError) as caught:
        image_facts(encode(Image.new("RGB", (40, 40)), "PNG"))

    assert caught.value.code == "image_too_large"


def test_a_thumbnail_of_a_bomb_is_refused_before_decoding():
    with pytest.raises(IntakeError) as caught:
        make_thumbnail(png_declaring(30_000, 30_000))

    assert caught.value.code == "image_too_large"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n\x00\x00",  # the signature, then nothing
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # a JPEG header cut short
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # EPS: Pillow would run Ghostscript
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["empty", "text", "png signature only", "truncated jpeg header", "eps", "svg"],
)
def test_unreadable_or_unaccepted_images_are_corrupt(content):
    with pytest.raises(IntakeError) as caught:
        image_facts(io.BytesIO(content))

    assert caught.value.code == "corrupt"


def test_a_png_declaring_no_pixels_is_corrupt():
    with pytest.raises(IntakeError) as caught:
        image_facts(png_declaring(0, 10))

    assert caught.value.code == "corrupt"


# --- Thumbnails -------------------------------------------------------------------------------------
def thumbnail_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


@pytest.mark.parametrize(
    ("mode", "fmt", "options"),
    [
        ("RGB", "JPEG", {}),
        ("CMYK", "JPEG", {}),
        ("L", "PNG", {}),
        ("LA", "PNG", {}),
        ("RGBA", "PNG", {}),
        ("P", "GIF", {"transparency": 0}),
        ("I;16", "PNG", {}),
        ("1", "BMP", {}),
        ("RGB", "TIFF", {"compression": "tiff_deflate"}),
        ("RGBA", "WEBP", {}),
    ],
)
def test_thumbnails_are_small_rgb_jpegs_whatever_the_source_mode(mode, fmt, options):
    source = encode(Image.new(mode, (1000, 500)), fmt, **options)

    thumb = thumbnail_image(make_thumbnail(source))

    assert (thumb.mode, thumb.size) == ("RGB", (256, 128))


def test_a_thumbnail_respects_max_side():
    thumb = thumbnail_image(make_thumbnail(encode(Image.new("RGB", (300, 900)), "PNG"), max_side=64))

    assert thumb.size == (21, 64)


def test_a_small_image_is_not_enlarged():
    thumb = thumbnail_image(make_thumbnail(encode(Image.new("RGB", (40, 30)), "PNG")))

    assert thumb.size == (40, 30)


def test_a_thumbnail_is_upright_as_the_exif_orientation_says():
    stored = Image.new("RGB", (200, 100), "blue")
    stored.paste((255, 0, 0), (0, 0, 100, 100))  # left half red, as the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"

    thumb = thumbnail_image(make_thumbnail(encode(stored, "JPEG", exif=exif)))

    assert thumb.size == (100, 200)
    top, bottom = thumb.getpixel((50, 20)), thumb.getpixel((50, 180))
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]  # the red half is on top


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    seen = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        seen.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)

    make_thumbnail(encode(Image.new("RGB", (4096, 3072), "white"), "JPEG"))

    assert seen and set(seen) == {(512, 384)}  # 1/8 scale: 0.6 MB of pixels decoded, not 37 MB


def test_a_truncated_image_body_makes_no_thumbnail():
    whole = encode(noise((256, 256)), "PNG").getvalue()

    with pytest.raises(IntakeError) as caught:
        make_thumbnail(io.BytesIO(whole[: len(whole) // 2]))

    assert caught.value.code == "corrupt"
    assert "damaged or truncated" in str(caught.value)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_broken_exif_block_costs_only_the_rotation():
    data = encode(Image.new("RGB", (100, 50)), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff").getvalue()

    thumb = thumbnail_image(make_thumbnail(io.BytesIO(data)))

    assert thumb.size == (100, 50)


# --- Durations --------------------------------------------------------------------------------------
def wav(seconds: float, rate: int = 8000, channels: int = 1, width: int = 2) -> io.BytesIO:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(b"\x00" * int(seconds * rate) * channels * width)
    out.seek(0)
    return out


def riff_wav(fmt_body: bytes, data: bytes, *, declared_data_size: int | None = None, extra: bytes = b"") -> io.BytesIO:
    size = len(data) if declared_data_size is None else declared_data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra + b"data" + struct.pack("<I", size)
    return io.BytesIO(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)


def test_wav_duration_from_the_header():
    assert duration_seconds(wav(1.5, rate=8000, channels=2), mime="audio/wav") == pytest.approx(1.5)


def test_wav_duration_of_float_extensible_audio_the_wave_module_cannot_read():
    # WAVE_FORMAT_EXTENSIBLE, 48 kHz stereo 32-bit float: byte rate 384,000
    fmt = struct.pack("<HHIIHH", 0xFFFE, 2, 48000, 384000, 8, 32) + struct.pack(
        "<HHI16s", 22, 32, 3, b"\x03" + b"\x00" * 15
    )
    padded_list_chunk = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size: padded to even

    stream = riff_wav(fmt, b"\x00" * 192000, extra=padded_list_chunk)

    assert wav_duration(stream) == pytest.approx(0.5)


def test_a_streamed_wav_without_a_data_size_uses_the_file_size():
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)

    stream = riff_wav(fmt, b"\x00" * 8000, declared_data_size=0xFFFFFFFF)

    assert wav_duration(stream) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "content",
    [b"", b"RIFF\x00\x00\x00\x00WAVE", b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd", b"not a wav"],
    ids=["empty", "no chunks", "data before fmt", "not wav"],
)
def test_wav_duration_is_none_when_the_header_does_not_say(content):
    assert duration_seconds(io.BytesIO(content), mime="audio/wav") is None


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def mvhd(timescale: int, duration: int, version: int = 0) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    return box(b"mvhd", bytes([version, 0, 0, 0]) + times + b"\x00" * 80)


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")


def test_mp4_duration_from_mvhd():
    movie = FTYP + box(b"moov", box(b"udta", b"\x00" * 10) + mvhd(1000, 12_345)) + box(b"mdat", b"\x00" * 100)

    assert duration_seconds(io.BytesIO(movie), mime="video/mp4") == pytest.approx(12.345)


def test_mp4_duration_with_a_64_bit_mvhd():
    movie = FTYP + box(b"moov", mvhd(90_000, 90_000 * 3600 * 30, version=1))

    assert mp4_duration(io.BytesIO(movie)) == pytest.approx(3600 * 30)


def test_mp4_duration_seeks_past_a_huge_mdat_without_reading_it(tmp_path):
    path = tmp_path / "big.mp4"
    mdat_size = 5 * 1024**3  # a sparse 5 GB file: 64-bit box size, moov after the media data
    with path.open("wb") as out:
        out.write(FTYP)
        out.write(struct.pack(">I4sQ", 1, b"mdat", mdat_size))
        out.seek(len(FTYP) + mdat_size)
        out.write(box(b"moov", mvhd(600, 600 * 95)))
    with path.open("rb") as raw:
        reader = CountingReader(raw)

        duration = duration_seconds(reader, mime="video/quicktime")

    assert duration == pytest.approx(95)
    assert reader.bytes_read < 1024


@pytest.mark.parametrize(
    "movie",
    [
        b"",
        FTYP,  # no moov
        FTYP + box(b"moov", box(b"trak", b"")),  # no mvhd
        FTYP + box(b"moov", mvhd(0, 100)),  # timescale 0
        FTYP + box(b"moov", mvhd(1000, 0xFFFFFFFF)),  # "unknown duration"
        FTYP + struct.pack(">I4s", 4, b"moov"),  # a box smaller than its header
        FTYP + struct.pack(">I4s", 10**9, b"moov") + b"\x00" * 8,  # a box larger than the file
        FTYP + box(b"moov", b"\x00\x00\x00\x10mvhd\x00\x00"),  # mvhd cut short
    ],
    ids=["empty", "no moov", "no mvhd", "zero timescale", "unknown", "tiny box", "box past the end", "short mvhd"],
)
def test_mp4_duration_is_none_when_the_boxes_do_not_say(movie):
    assert duration_seconds(io.BytesIO(movie), mime="video/mp4") is None


def test_a_million_empty_boxes_end_the_walk_quickly():
    movie = FTYP + box(b"free", b"") * 1_000_000 + box(b"moov", mvhd(1, 5))

    assert mp4_duration(io.BytesIO(movie)) is None  # gives up after 10,000 boxes


def test_other_media_have_no_duration():
    assert duration_seconds(io.BytesIO(b"fLaC"), mime="audio/flac") is None


# --- Text -------------------------------------------------------------------------------------------
def test_text_facts_count_lines_in_chunks():
    text = ("caf\u00e9 " * 10 + "\n").encode() * 1000 + "last line without newline \u00e9".encode()

    assert text_facts(io.BytesIO(text), chunk_size=7) == (1001, "utf-8")


def test_text_that_is_not_utf8_is_refused_with_its_position():
    with pytest.raises(IntakeError) as caught:
        text_facts(io.BytesIO(b"hello\n\xff\xfe"))

    assert caught.value.code == "bad_encoding"
    assert "at byte 6" in str(caught.value)


# --- What an Item records ---------------------------------------------------------------------------
def test_media_facts_of_an_image_are_its_size():
    assert media_facts(encode(Image.new("RGB", (64, 48)), "PNG"), kind="image", mime="image/png") == (64, 48, None)


def test_media_facts_of_a_video_are_its_duration():
    movie = io.BytesIO(FTYP + box(b"moov", mvhd(1000, 2500)))

    assert media_facts(movie, kind="video", mime="video/mp4") == (None, None, 2.5)


def test_media_facts_of_other_kinds_are_empty():
    assert media_facts(io.BytesIO(b"hello"), kind="text", mime="text/plain") == (None, None, None)


def test_media_facts_refuse_a_decompression_bomb():
    with pytest.raises(IntakeError) as caught:
        media_facts(png_declaring(40_000, 40_000), kind="image", mime="image/png")

    assert caught.value.code == "image_too_large"
