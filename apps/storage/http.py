"""Streaming a blob's plaintext to a browser, safely.

serve_blob() only streams: the caller (datasets) has already checked access and recorded the read.
What a browser may do with the bytes is decided here, whatever the uploader claimed: only a whitelist of
inert media types is served as itself; anything else (HTML, SVG, XML, scripts, PDF, ...) goes out as
application/octet-stream, as an attachment. Every response carries nosniff and a CSP that forbids the
content from running anything, even if a browser were to render it.
"""

import re
import unicodedata
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import http_date

from .models import Blob
from .services import blob_open

STREAM_PIECE = 256 * 1024
CONTENT_CSP = "default-src 'none'; sandbox"
OCTET_STREAM = "application/octet-stream"

# Types a browser shows without running anything. Everything else is served as OCTET_STREAM.
SAFE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/avif",
    "audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/opus", "audio/wav", "audio/wave", "audio/x-wav",
    "audio/flac", "audio/x-flac", "audio/webm",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime", "video/mpeg", "video/x-matroska",
    "text/plain", "application/dicom", OCTET_STREAM,
})

_RANGE = re.compile(r"bytes\s*=\s*(\d{0,18})\s*-\s*(\d{0,18})", re.IGNORECASE)
UNSATISFIABLE = "unsatisfiable"


def safe_content_type(mime: str) -> tuple[str, bool]:
    """(Content-Type to send, whether the stored type is one we serve as itself)."""
    base = (mime or "").split(";", 1)[0].strip().lower()
    if base not in SAFE_TYPES:
        return OCTET_STREAM, False
    return ("text/plain; charset=utf-8" if base == "text/plain" else base), True


def parse_range(header: str | None, size: int):
    """None (serve everything), UNSATISFIABLE, or (first, last) inclusive for one `bytes=` range.

    Malformed headers and multiple ranges are ignored, as RFC 9110 allows: the whole content is served.
    """
    match = _RANGE.fullmatch((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(int(last), size - 1) if last else size - 1


def _clean_filename(filename: str) -> str:
    name = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Drops control and format characters (newlines, NUL, right-to-left overrides that disguise extensions).
    name = "".join(c for c in name if unicodedata.category(c)[0] not in {"C", "Z"} or c == " ")
    return name.strip().strip(".")[:200] or "download"


def content_disposition(filename: str, *, inline: bool) -> str:
    """`inline` or `attachment`, with an ASCII fallback and the RFC 5987 UTF-8 name."""
    name = _clean_filename(filename)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._()+ -]", "_", ascii_name).strip() or "download"
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _common_headers(response: HttpResponse, blob: Blob, etag: str) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = CONTENT_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Revalidated on every use (If-None-Match), so a revoked grant takes effect at once.
    response["Cache-Control"] = "private, no-cache"
    if etag:
        response["ETag"] = etag
    if blob.created_at:
        response["Last-Modified"] = http_date(blob.created_at.timestamp())
    return response


def _pieces(reader, first_piece: bytes, remaining: int):
    try:
        yield first_piece
        while remaining > 0:
            data = reader.read(min(STREAM_PIECE, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data
    finally:
        reader.close()


async def _apieces(reader, first_piece: bytes, remaining: int):
    """The same pieces for an ASGI server (daphne). Django would buffer a sync iterator whole there (it
    consumes it with sync_to_async(list)), so reads run one piece at a time in a worker thread instead."""
    read = sync_to_async(reader.read, thread_sensitive=False)
    try:
        yield first_piece
        while remaining > 0:
            data = await read(min(STREAM_PIECE, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data
    finally:
        reader.close()


def serve_blob(request, blob: Blob, *, filename: str, inline: bool) -> HttpResponse:
    """The blob's content: 200, 206 for one satisfiable `Range: bytes=`, 416 for an unsatisfiable one,
    304 when If-None-Match names its ETag. HEAD answers the same headers without a body."""
    size = blob.size
    etag = f'"{blob.sha256}"' if blob.sha256 else ""
    content_type, safe = safe_content_type(blob.mime)
    if etag and _etag_matches(request.META.get("HTTP_IF_NONE_MATCH"), etag):
        return _common_headers(HttpResponse(status=304), blob, etag)

    wanted = parse_range(request.META.get("HTTP_RANGE"), size)
    if_range = request.META.get("HTTP_IF_RANGE")
    if wanted is not None and if_range and if_range.strip() != etag:
        wanted = None  # the client's copy is stale: send the whole current content
    if wanted == UNSATISFIABLE:
        response = HttpResponse(status=416, content_type="text/plain; charset=utf-8")
        response["Content-Range"] = f"bytes */{size}"
        return _common_headers(response, blob, etag)

    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1 if size else 0
    reader = blob_open(blob)
    try:
        reader.seek(start)
        # Read the first piece now: a missing or damaged blob fails before the response starts.
        first_piece = b"" if request.method == "HEAD" else reader.read(min(STREAM_PIECE, length))
    except BaseException:
        reader.close()
        raise
    if request.method == "HEAD":
        reader.close()
        response = HttpResponse(status=206 if wanted else 200, content_type=content_type)
    else:
        pieces = _apieces if isinstance(request, ASGIRequest) else _pieces
        response = StreamingHttpResponse(
            pieces(reader, first_piece, length - len(first_piece)), status=206 if wanted else 200,
            content_type=content_type,
        )
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition(filename, inline=inline and safe)
    return _common_headers(response, blob, etag)
