"""Content that lies about its type: the sniffer believes bytes, not names or declarations."""

import codecs
import io
import struct
import wave

import pytest
from PIL import Image

from apps.datasets.models import Item
from apps.storage.intake import IntakeError, check_declared, kind_from_filename, sniff
from apps.storage.intake.sniff import KINDS


def image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (4, 3), "red").save(out, fmt)
    return out.getvalue()


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


MATROSKA = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84"
SAMPLES = {
    "jpeg": (image_bytes("JPEG"), "photo.jpg", "image", "image/jpeg"),
    "png": (image_bytes("PNG"), "photo.png", "image", "image/png"),
    "gif": (image_bytes("GIF"), "anim.gif", "image", "image/gif"),
    "webp": (image_bytes("WEBP"), "photo.webp", "image", "image/webp"),
    "bmp": (image_bytes("BMP"), "photo.bmp", "image", "image/bmp"),
    "tiff": (image_bytes("TIFF"), "scan.tif", "image", "image/tiff"),
    "tiff big-endian": (b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 32, "scan.tif", "image", "image/tiff"),
    "heic": (ftyp(b"heic", b"mif1"), "photo.heic", "image", "image/heic"),
    "mp4": (ftyp(b"isom", b"iso2", b"avc1", b"mp41"), "clip.mp4", "video", "video/mp4"),
    "mov": (ftyp(b"qt  ", b"qt  "), "clip.mov", "video", "video/quicktime"),
    "m4a": (ftyp(b"M4A ", b"mp42"), "song.m4a", "audio", "audio/mp4"),
    "mp4 named .m4a": (ftyp(b"mp42", b"isom"), "voice.m4a", "audio", "audio/mp4"),
    "webm": (MATROSKA + b"webm" + b"\x00" * 16, "clip.webm", "video", "video/webm"),
    "mkv": (MATROSKA + b"matroska" + b"\x00" * 16, "clip.mkv", "video", "video/x-matroska"),
    "webm audio": (MATROSKA + b"webm" + b"\x00" * 16, "voice.weba", "audio", "audio/webm"),
    "avi": (b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 16, "clip.avi", "video", "video/x-msvideo"),
    "mpeg program stream": (b"\x00\x00\x01\xba" + b"\x44" * 16, "clip.mpg", "video", "video/mpeg"),
    "wav": (wav_bytes(), "voice.wav", "audio", "audio/wav"),
    "mp3 with ID3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" * 4, "song.mp3", "audio", "audio/mpeg"),
    "mp3 frame": (b"\xff\xfb\x90\x64" + b"\x00" * 60, "song.mp3", "audio", "audio/mpeg"),
    "aac": (b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 16, "song.aac", "audio", "audio/aac"),
    "flac": (b"fLaC\x00\x00\x00\x22" + b"\x00" * 34, "song.flac", "audio", "audio/flac"),
    "ogg vorbis": (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis" + b"\x00" * 16, "song.ogg", "audio", "audio/ogg"),
    "opus": (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead" + b"\x00" * 16, "song.opus", "audio", "audio/ogg"),
    "ogg theora": (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora" + b"\x00" * 16, "clip.ogv", "video", "video/ogg"),
    "aiff": (b"FORM\x00\x00\x00\x20AIFFCOMM" + b"\x00" * 24, "song.aiff", "audio", "audio/aiff"),
    "dicom": (b"\x00" * 128 + b"DICM\x02\x00\x00\x00UL\x04\x00", "scan.dcm", "dicom", "application/dicom"),
    "pcd binary": (
        b"# .PCD v0.7 - Point Cloud Data\nVERSION 0.7\nFIELDS x y z\n",
        "scan.pcd",
        "pointcloud",
        "application/x-pcd",
    ),
    "pcd without comment": (b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\n", "scan.pcd", "pointcloud", "application/x-pcd"),
    "ply": (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\n", "scan.ply", "pointcloud", "application/x-ply"),
    "las": (b"LASF\x00\x00\x00\x00" + b"\x00" * 200, "scan.las", "pointcloud", "application/vnd.las"),
    "text": (b"a cat on a mat\nline two\n", "notes.txt", "text", "text/plain"),
    "utf-8 text cut mid-character": (
        "caf\u00e9 na\u00efve ".encode() * 3 + "\u00e9".encode()[:1],
        "a.txt",
        "text",
        "text/plain",
    ),
    "csv": (b"id,label\n1,cat\n", "labels.csv", "text", "text/csv"),
    "json": (b'{"a": 1}', "meta.json", "text", "text/plain"),
    "text that starts like a BMP": (b"BMW and Audi\n", "cars.txt", "text", "text/plain"),
    "text that starts like a Windows executable": (b"MZ is a postcode area\n", "note.txt", "text", "text/plain"),
    "text that starts like bzip2": (b"BZh, said the bee\n", "note.txt", "text", "text/plain"),
}
NEVER_ITEMS = {
    "html": (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html"),
    "html upper case after whitespace": (b"\n\t  <HTML>\n<script>alert(1)</script>", "text/html"),
    "html with a BOM": (codecs.BOM_UTF8 + b"<html>", "text/html"),
    "html in utf-16": (codecs.BOM_UTF16_LE + "<html><script>x</script>".encode("utf-16-le"), "text/html"),
    "script tag": (b"<script>fetch('/api/v1/')</script>", "text/html"),
    "iframe": (b"<iframe src=//evil>", "text/html"),
    "bare anchor": (b"<a href=javascript:alert(1)>click</a>", "text/html"),
    "html comment": (b"<!-- hello --><img src=x onerror=alert(1)>", "text/html"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
    "svg after an xml declaration": (
        b'<?xml version="1.0"?>\n<!-- x -->\n<svg xmlns="http://www.w3.org/2000/svg">',
        "image/svg+xml",
    ),
    "xhtml": (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">', "text/html"),
    "xml": (b'<?xml version="1.0"?><annotation><object/></annotation>', "application/xml"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
    "windows executable": (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "application/x-msdownload"),
    "elf executable": (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8, "application/x-executable"),
    "mach-o": (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "application/x-mach-binary"),
    "shell script": (b"#!/bin/sh\nrm -rf /\n", "text/x-script"),
    "php": (b"GIF8 <?php system($_GET['c']); ?>", "application/x-httpd-php"),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "application/zip"),
    "gzip": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
    "tar": (b"a.txt" + b"\x00" * 252 + b"ustar\x0000" + b"\x00" * 300, "application/x-tar"),
    "unknown binary": (bytes(range(256)) * 4, "application/octet-stream"),
}


def test_the_kinds_are_the_item_kinds():
    assert set(KINDS) == set(Item.Kind.values)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_real_content_is_recognised(name):
    content, filename, kind, mime = SAMPLES[name]

    sniffed = sniff(content, filename=filename)

    assert (sniffed.kind, sniffed.mime, sniffed.dangerous) == (kind, mime, False)


@pytest.mark.parametrize("name", list(NEVER_ITEMS))
def test_content_that_is_never_an_item_has_no_kind(name):
    content, mime = NEVER_ITEMS[name]

    sniffed = sniff(content, filename="innocent.jpg")

    assert (sniffed.kind, sniffed.mime) == (None, mime)


@pytest.mark.parametrize("name", ["html", "svg", "xml", "pdf", "windows executable", "shell script", "php"])
def test_active_content_is_flagged_dangerous(name):
    sniffed = sniff(NEVER_ITEMS[name][0], filename="x")

    assert sniffed.dangerous is True


def test_the_name_does_not_decide_the_type():
    sniffed = sniff(SAMPLES["png"][0], filename="report.pdf")

    assert (sniffed.kind, sniffed.mime) == ("image", "image/png")


def test_html_that_says_it_is_an_image_is_refused_in_words():
    sniffed = sniff(b"<html><script>alert(1)</script>", filename="cat.jpg")

    with pytest.raises(IntakeError) as caught:
        check_declared(sniffed, "image", filename="cat.jpg")

    assert caught.value.code == "type_mismatch"
    assert (
        str(caught.value)
        == "'cat.jpg' says it is an image but its content is HTML, which is never accepted as an item."
    )


@pytest.mark.parametrize("declared", [*KINDS, None])
@pytest.mark.parametrize("name", ["html", "svg", "xml"])
def test_markup_is_never_accepted_whatever_is_declared(name, declared):
    sniffed = sniff(NEVER_ITEMS[name][0], filename="notes.txt")

    with pytest.raises(IntakeError) as caught:
        check_declared(sniffed, declared)

    assert caught.value.code == ("unsupported_type" if declared is None else "type_mismatch")


def test_an_image_declared_as_video_is_a_mismatch():
    with pytest.raises(IntakeError) as caught:
        check_declared(sniff(SAMPLES["jpeg"][0], filename="clip.mp4"), "video", filename="clip.mp4")

    assert caught.value.code == "type_mismatch"
    assert "says it is a video but its content is a JPEG image" in str(caught.value)


def test_an_archive_with_nothing_declared_is_unsupported():
    with pytest.raises(IntakeError) as caught:
        check_declared(sniff(NEVER_ITEMS["zip"][0], filename="inner.zip"), None, filename="inner.zip")

    assert caught.value.code == "unsupported_type"
    assert "is a zip archive, which is not a supported kind of item" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "declared", "stored"),
    [
        ("jpeg", "image", "image"),
        ("jpeg", None, "image"),
        ("mp4", "audio", "audio"),  # an MP4 may carry audio only
        ("m4a", "video", "video"),
        ("webm", "audio", "audio"),
        ("wav", "audio", "audio"),
        ("dicom", "dicom", "dicom"),
        ("ply", "pointcloud", "pointcloud"),
        ("csv", "text", "text"),
    ],
)
def test_honest_declarations_are_accepted(name, declared, stored):
    content, filename, _kind, _mime = SAMPLES[name]

    assert check_declared(sniff(content, filename=filename), declared) == stored


def test_an_unknown_declared_kind_is_refused():
    with pytest.raises(IntakeError) as caught:
        check_declared(sniff(b"hello", filename="a.txt"), "executable")

    assert caught.value.code == "unknown_kind"


def test_a_hostile_file_name_is_quoted_and_cut_in_the_message():
    name = "<img src=x onerror=alert(1)>" + "a" * 500 + ".jpg"

    with pytest.raises(IntakeError) as caught:
        check_declared(sniff(b"<html>", filename=name), "image", filename=name)

    assert len(str(caught.value)) < 200
    assert str(caught.value).startswith("'<img src=x onerror=alert(1)>aaa")


@pytest.mark.parametrize(
    ("filename", "kind"),
    [("a.JPG", "image"), ("b.mp4", "video"), ("c.flac", "audio"), ("d.csv", "text"), ("e.pcd", "pointcloud"),
     ("f.dcm", "dicom"), ("g.html", None), ("noextension", None), ("archive.tar.gz", None)],
)  # fmt: skip
def test_kind_from_filename(filename, kind):
    assert kind_from_filename(filename) == kind


def test_an_empty_file_is_text_with_nothing_in_it():
    assert sniff(b"", filename="empty.txt").kind == "text"
