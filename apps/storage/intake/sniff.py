"""What a file really is, from its first bytes, whatever its name or the uploader says.

`sniff(head, filename=...)` looks at the first `SNIFF_BYTES` bytes (fewer is fine for a small file) and
answers a `Sniffed`: the item kind it can be (one of `KINDS`, the values of `datasets.Item.Kind`) or
None for content that is never an item (HTML, SVG, XML, PDF, executables, scripts, archives, unknown
binary). `check_declared(sniffed, declared_kind)` refuses content that is not what the upload, the
manifest row or the file extension says it is.

HTML, SVG and XML are never accepted, whatever is declared: served back from our origin they could
run script. A text file is "HTML" when a browser would sniff it as HTML (the WHATWG MIME sniffing
patterns: `<!DOCTYPE HTML`, `<html`, `<script`, `<iframe`, `<body`, ... after leading whitespace).

The storage app sits above datasets (DESIGN.md), so the kinds are spelled here as strings; a test
pins them to `Item.Kind`.
"""

import codecs
import os
import re
from collections.abc import Callable
from typing import NamedTuple

from .errors import IntakeError, shown

KINDS = ("image", "video", "audio", "text", "pointcloud", "dicom")
KIND_WORDS = {
    "image": "an image",
    "video": "a video",
    "audio": "audio",
    "text": "text",
    "pointcloud": "a point cloud",
    "dicom": "a DICOM file",
}
# Enough for every signature below (tar's "ustar" sits at 257) and a fair look at text.
SNIFF_BYTES = 8192


class Sniffed(NamedTuple):
    kind: str | None  # one of KINDS, or None: never an item
    mime: str
    description: str  # "a PNG image", "HTML": what a person is told the content is
    dangerous: bool = False  # active content (HTML, SVG, XML, PDF, executables, scripts): worth an audit line
    also: frozenset[str] = frozenset()  # other kinds it may honestly be declared as (an .mp4 may be audio)


# --- Signature table ---------------------------------------------------------------------------------
# (offset, magic, kind, mime, description); checked in order, first match wins. Containers whose kind
# depends on more than a prefix (RIFF, ftyp, Matroska, Ogg, BMP, MP3 frames) have functions below.
SIGNATURES: tuple[tuple[int, bytes, str | None, str, str], ...] = (
    (0, b"\xff\xd8\xff", "image", "image/jpeg", "a JPEG image"),
    (0, b"\x89PNG\r\n\x1a\n", "image", "image/png", "a PNG image"),
    (0, b"GIF87a", "image", "image/gif", "a GIF image"),
    (0, b"GIF89a", "image", "image/gif", "a GIF image"),
    (0, b"II*\x00", "image", "image/tiff", "a TIFF image"),
    (0, b"MM\x00*", "image", "image/tiff", "a TIFF image"),
    (128, b"DICM", "dicom", "application/dicom", "a DICOM file"),
    (0, b"fLaC", "audio", "audio/flac", "FLAC audio"),
    (0, b"ID3", "audio", "audio/mpeg", "MP3 audio"),
    (0, b"LASF", "pointcloud", "application/vnd.las", "a LAS point cloud"),
    (0, b"ply\n", "pointcloud", "application/x-ply", "a PLY point cloud"),
    (0, b"ply\r\n", "pointcloud", "application/x-ply", "a PLY point cloud"),
    (0, b"# .PCD", "pointcloud", "application/x-pcd", "a PCD point cloud"),
    (0, b"%PDF-", None, "application/pdf", "a PDF document"),
    (0, b"MZ", None, "application/x-msdownload", "a Windows executable"),
    (0, b"\x7fELF", None, "application/x-executable", "an ELF executable"),
    (0, b"\xfe\xed\xfa\xce", None, "application/x-mach-binary", "a Mach-O executable"),
    (0, b"\xfe\xed\xfa\xcf", None, "application/x-mach-binary", "a Mach-O executable"),
    (0, b"\xce\xfa\xed\xfe", None, "application/x-mach-binary", "a Mach-O executable"),
    (0, b"\xcf\xfa\xed\xfe", None, "application/x-mach-binary", "a Mach-O executable"),
    (0, b"\xca\xfe\xba\xbe", None, "application/java-vm", "a Java class or Mach-O executable"),
    (0, b"\x00asm", None, "application/wasm", "a WebAssembly module"),
    (0, b"FWS", None, "application/x-shockwave-flash", "a Flash file"),
    (0, b"CWS", None, "application/x-shockwave-flash", "a Flash file"),
    (0, b"#!", None, "text/x-script", "a script"),
    (0, b"PK\x03\x04", None, "application/zip", "a zip archive"),
    (0, b"PK\x05\x06", None, "application/zip", "a zip archive"),
    (0, b"\x1f\x8b", None, "application/gzip", "a gzip archive"),
    (0, b"BZh", None, "application/x-bzip2", "a bzip2 archive"),
    (0, b"\xfd7zXZ\x00", None, "application/x-xz", "an xz archive"),
    (0, b"(\xb5/\xfd", None, "application/zstd", "a zstd archive"),
    (0, b"7z\xbc\xaf'\x1c", None, "application/x-7z-compressed", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", None, "application/vnd.rar", "a RAR archive"),
    (257, b"ustar", None, "application/x-tar", "a tar archive"),
)
# Short magics that ordinary text could start with must also pass these.
SIGNATURE_GUARDS: dict[bytes, Callable[[bytes], bool]] = {
    b"MZ": lambda head: b"\x00" in head[2:64],
    b"ID3": lambda head: head[3:4] in (b"\x02", b"\x03", b"\x04"),
    b"BZh": lambda head: head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"),
    b"FWS": lambda head: head[3:4] < b"\x40",
    b"CWS": lambda head: head[3:4] < b"\x40",
    b"LASF": lambda head: b"\x00" in head[4:32],
}


def _always(head: bytes) -> bool:
    return True


DANGEROUS_MIMES = frozenset(
    {
        "text/html",
        "image/svg+xml",
        "application/xml",
        "application/pdf",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
        "application/java-vm",
        "application/wasm",
        "application/x-shockwave-flash",
        "text/x-script",
        "application/x-httpd-php",
    }
)

# ISO BMFF major/compatible brands (bytes 8-12 and onward of an `ftyp` box).
IMAGE_BRANDS = {
    b"heic": ("image/heic", "a HEIC image"),
    b"heix": ("image/heic", "a HEIC image"),
    b"heim": ("image/heic", "a HEIC image"),
    b"heis": ("image/heic", "a HEIC image"),
    b"mif1": ("image/heif", "a HEIF image"),
    b"msf1": ("image/heif", "a HEIF image"),
    b"avif": ("image/avif", "an AVIF image"),
    b"avis": ("image/avif", "an AVIF image"),
}
AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
QUICKTIME_BRANDS = {b"qt  "}

AUDIO_EXTENSIONS = frozenset({".m4a", ".m4b", ".weba", ".mka", ".oga", ".ogg", ".opus", ".aac", ".mp3"})
EXTENSION_KINDS = {
    **dict.fromkeys(
        (".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"), "image"
    ),
    **dict.fromkeys((".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".3gp"), "video"),
    **dict.fromkeys(
        (".wav", ".wave", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".weba", ".mka", ".aif", ".aiff"),
        "audio",
    ),
    **dict.fromkeys((".txt", ".text", ".csv", ".tsv", ".json", ".jsonl", ".md", ".log", ".srt", ".vtt"), "text"),
    **dict.fromkeys((".pcd", ".ply", ".las", ".laz"), "pointcloud"),
    **dict.fromkeys((".dcm", ".dicom"), "dicom"),
}
TEXT_MIMES = {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".md": "text/markdown", ".vtt": "text/vtt"}

# WHATWG MIME sniffing, "identifying a resource with an unknown MIME type": tags that make a browser
# render HTML, matched case-insensitively after whitespace and followed by a space or ">".
HTML_TAGS = (
    b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font", b"<table",
    b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--", b"<meta", b"<img", b"<svg",
    b"<object", b"<embed", b"<form", b"<base", b"<link", b"<math",
)  # fmt: skip
HTML_TAG_END = b" \t\n\x0c\r>"
_SVG_RE = re.compile(rb"<svg[\s>/]", re.IGNORECASE)
_PHP_RE = re.compile(rb"<\?php", re.IGNORECASE)
_TEXT_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


def kind_from_filename(filename: str) -> str | None:
    """The kind a file's extension claims, or None when the extension says nothing."""
    return EXTENSION_KINDS.get(os.path.splitext(filename)[1].lower())


def sniff(head: bytes, *, filename: str = "") -> Sniffed:
    """The real type of content whose first bytes are `head` (read at least SNIFF_BYTES when there are)."""
    ext = os.path.splitext(filename)[1].lower()
    for check in _CONTAINER_CHECKS:
        found = check(head, ext)
        if found is not None:
            return found
    for offset, magic, kind, mime, description in SIGNATURES:
        if head[offset : offset + len(magic)] == magic and SIGNATURE_GUARDS.get(magic, _always)(head):
            return Sniffed(kind, mime, description, mime in DANGEROUS_MIMES)
    markup = _sniff_markup(head)
    if markup is not None:
        return markup
    if _looks_like_text(head):
        return _sniff_text(head, ext)
    return Sniffed(None, "application/octet-stream", "binary data of an unknown type")


def check_declared(sniffed: Sniffed, declared_kind: str | None, *, filename: str = "") -> str:
    """The kind to store, or IntakeError when the content is not what it is declared to be.

    `declared_kind` comes from the request, the manifest row or `kind_from_filename`; None means
    "whatever it really is". Codes: "unknown_kind" (declared kind is not a kind), "type_mismatch"
    (declared one kind, content is another or is never an item), "unsupported_type" (nothing was
    declared and the content is not an item).
    """
    subject = shown(filename) if filename else "The file"
    if declared_kind is not None and declared_kind not in KINDS:
        raise IntakeError(
            "unknown_kind", f"{shown(declared_kind)} is not a kind of item; use one of {', '.join(KINDS)}."
        )
    if sniffed.kind is None:
        reason = "is never accepted as an item" if sniffed.dangerous else "is not a supported kind of item"
        if declared_kind is None:
            raise IntakeError("unsupported_type", f"{subject} is {sniffed.description}, which {reason}.")
        raise IntakeError(
            "type_mismatch",
            f"{subject} says it is {KIND_WORDS[declared_kind]} but its content is {sniffed.description}, "
            f"which {reason}.",
        )
    if declared_kind is None or declared_kind == sniffed.kind or declared_kind in sniffed.also:
        return declared_kind or sniffed.kind
    raise IntakeError(
        "type_mismatch",
        f"{subject} says it is {KIND_WORDS[declared_kind]} but its content is {sniffed.description}.",
    )


# --- Containers ------------------------------------------------------------------------------------
def _riff(head: bytes, ext: str) -> Sniffed | None:
    if head[:4] != b"RIFF":
        return None
    form = head[8:12]
    if form == b"WEBP":
        return Sniffed("image", "image/webp", "a WebP image")
    if form == b"WAVE":
        return Sniffed("audio", "audio/wav", "WAV audio")
    if form == b"AVI ":
        return Sniffed("video", "video/x-msvideo", "an AVI video")
    return None


def _aiff(head: bytes, ext: str) -> Sniffed | None:
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("audio", "audio/aiff", "AIFF audio")
    return None


def _ftyp(head: bytes, ext: str) -> Sniffed | None:
    if head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(max(size, 16), len(head), 256), 4)}
    for brand, (mime, description) in IMAGE_BRANDS.items():
        if major == brand:
            return Sniffed("image", mime, description)
    if major in AUDIO_BRANDS or (ext in AUDIO_EXTENSIONS and not brands & QUICKTIME_BRANDS):
        return Sniffed("audio", "audio/mp4", "MP4 audio", also=frozenset({"video"}))
    if major in QUICKTIME_BRANDS:
        return Sniffed("video", "video/quicktime", "a QuickTime video", also=frozenset({"audio"}))
    return Sniffed("video", "video/mp4", "an MP4 video", also=frozenset({"audio"}))


def _matroska(head: bytes, ext: str) -> Sniffed | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    webm = b"webm" in head[:64]
    if ext in AUDIO_EXTENSIONS:
        mime = "audio/webm" if webm else "audio/x-matroska"
        return Sniffed("audio", mime, "WebM audio" if webm else "Matroska audio", also=frozenset({"video"}))
    mime = "video/webm" if webm else "video/x-matroska"
    return Sniffed("video", mime, "a WebM video" if webm else "a Matroska video", also=frozenset({"audio"}))


def _ogg(head: bytes, ext: str) -> Sniffed | None:
    if head[:4] != b"OggS":
        return None
    if b"\x80theora" in head[:128]:
        return Sniffed("video", "video/ogg", "an Ogg video", also=frozenset({"audio"}))
    if b"OpusHead" in head[:128]:
        return Sniffed("audio", "audio/ogg", "Opus audio")
    return Sniffed("audio", "audio/ogg", "Ogg audio")


def _bmp(head: bytes, ext: str) -> Sniffed | None:
    # "BM" alone is two letters of text; a real BMP names a known DIB header size at byte 14.
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return Sniffed("image", "image/bmp", "a BMP image")
    return None


def _mpeg_audio(head: bytes, ext: str) -> Sniffed | None:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    if head[1] & 0xF6 == 0xF0:  # AAC in ADTS: 12 sync bits, then layer bits 00
        return Sniffed("audio", "audio/aac", "AAC audio")
    layer, bitrate, rate = (head[1] >> 1) & 3, head[2] >> 4, (head[2] >> 2) & 3
    if layer and bitrate not in (0, 15) and rate != 3:
        return Sniffed("audio", "audio/mpeg", "MP3 audio")
    return None


def _mpeg_video(head: bytes, ext: str) -> Sniffed | None:
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return Sniffed("video", "video/mpeg", "an MPEG video")
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47 and not _looks_like_text(head):
        return Sniffed("video", "video/mp2t", "an MPEG transport stream")
    return None


_CONTAINER_CHECKS: tuple[Callable[[bytes, str], Sniffed | None], ...] = (
    _riff, _aiff, _ftyp, _matroska, _ogg, _bmp, _mpeg_audio, _mpeg_video,
)  # fmt: skip


# --- Text and markup -------------------------------------------------------------------------------
def _strip_text_start(head: bytes) -> bytes:
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    return head.lstrip(b" \t\n\x0c\r")


def _sniff_markup(head: bytes) -> Sniffed | None:
    text = _utf16_as_ascii(head) or head
    start = _strip_text_start(text)[:1024].lower()
    if start.startswith(b"<?xml") or start.startswith(b"<!doctype svg"):
        if _SVG_RE.search(text[:SNIFF_BYTES]):
            return Sniffed(None, "image/svg+xml", "an SVG image", dangerous=True)
        if b"<html" in start or b"xhtml" in start:
            return Sniffed(None, "text/html", "HTML", dangerous=True)
        return Sniffed(None, "application/xml", "XML", dangerous=True)
    if start.startswith(b"<svg") and start[4:5] in (b"", *(bytes([c]) for c in b" \t\n\x0c\r>/")):
        return Sniffed(None, "image/svg+xml", "an SVG image", dangerous=True)
    for tag in HTML_TAGS:
        if start.startswith(tag) and (tag == b"<!--" or start[len(tag) : len(tag) + 1] in _TAG_ENDS):
            return Sniffed(None, "text/html", "HTML", dangerous=True)
    if _PHP_RE.search(head[:1024]):
        return Sniffed(None, "application/x-httpd-php", "a PHP script", dangerous=True)
    return None


_TAG_ENDS = tuple(bytes([c]) for c in HTML_TAG_END)


def _utf16_as_ascii(head: bytes) -> bytes | None:
    """UTF-16 text with a BOM, reduced to bytes, so markup in UTF-16 is found too."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            body = head[2 : 2 + (len(head) - 2) // 2 * 2]
            return body.decode(encoding, errors="replace").encode("ascii", errors="replace")
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut multi-byte tail is fine
    except UnicodeDecodeError:
        return False
    controls = sum(1 for byte in head if byte in _TEXT_CONTROL)
    return controls * 100 <= len(head)  # a few stray escapes, not binary that happens to decode


def _sniff_text(head: bytes, ext: str) -> Sniffed:
    start = _strip_text_start(head)
    if ext == ".pcd" and (start.startswith(b"VERSION") or start.startswith(b"#")) and b"FIELDS" in head:
        return Sniffed("pointcloud", "application/x-pcd", "a PCD point cloud", also=frozenset({"text"}))
    if ext == ".ply" and start.startswith(b"ply"):
        return Sniffed("pointcloud", "application/x-ply", "a PLY point cloud", also=frozenset({"text"}))
    mime = TEXT_MIMES.get(ext, "text/plain")
    return Sniffed("text", mime, "text")
