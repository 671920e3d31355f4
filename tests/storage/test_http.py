"""serve_blob: ranges, caching headers, and content that never runs in the browser."""

import hashlib

import pytest
from django.test import RequestFactory

from apps.storage.errors import BlobCorrupted
from apps.storage.http import content_disposition, parse_range, serve_blob

from .content import marked_content

MiB = 1024 * 1024
CSP = "default-src 'none'; sandbox"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def get(blob, *, method="get", filename="photo.jpg", inline=True, **headers):
    request = getattr(RequestFactory(), method)("/content", **headers)
    return serve_blob(request, blob, filename=filename, inline=inline)


@pytest.fixture
def video(put):
    content = marked_content(int(2.5 * MiB))
    return put(content, mime="video/mp4"), content


def test_whole_content_is_served_with_its_headers(video):
    blob, content = video

    response = get(blob, filename="clip.mp4")

    assert (response.status_code, body(response)) == (200, content)
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(content))
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert response["Content-Disposition"] == "inline; filename=\"clip.mp4\"; filename*=UTF-8''clip.mp4"
    assert (response["X-Content-Type-Options"], response["Content-Security-Policy"]) == ("nosniff", CSP)


def test_first_bytes(video):
    blob, content = video

    response = get(blob, HTTP_RANGE="bytes=0-99")

    assert (response.status_code, body(response)) == (206, content[:100])
    assert response["Content-Range"] == f"bytes 0-99/{len(content)}"
    assert response["Content-Length"] == "100"


def test_a_range_spanning_a_chunk_boundary(video):
    blob, content = video
    first, last = MiB - 1000, 2 * MiB + 1000

    response = get(blob, HTTP_RANGE=f"bytes={first}-{last}")

    assert (response.status_code, body(response)) == (206, content[first : last + 1])
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(content)}"


def test_suffix_range(video):
    blob, content = video

    response = get(blob, HTTP_RANGE="bytes=-100")

    assert (response.status_code, body(response)) == (206, content[-100:])
    assert response["Content-Range"] == f"bytes {len(content) - 100}-{len(content) - 1}/{len(content)}"


def test_open_ended_range(video):
    blob, content = video

    response = get(blob, HTTP_RANGE=f"bytes={len(content) - 5}-")

    assert (response.status_code, body(response)) == (206, content[-5:])


def test_a_range_past_the_end_is_unsatisfiable(video):
    blob, content = video

    response = get(blob, HTTP_RANGE=f"bytes={len(content)}-")

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(content)}"
    assert response["Content-Security-Policy"] == CSP


def test_multiple_ranges_are_ignored_and_everything_is_served(video):
    blob, content = video

    response = get(blob, HTTP_RANGE="bytes=0-1,5-6")

    assert (response.status_code, len(body(response))) == (200, len(content))


def test_a_stale_if_range_serves_everything(video):
    blob, content = video

    response = get(blob, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"not-the-etag"')

    assert (response.status_code, len(body(response))) == (200, len(content))


def test_a_matching_if_none_match_answers_304(video):
    blob, _content = video

    response = get(blob, HTTP_IF_NONE_MATCH=f'"{blob.sha256}"')

    assert (response.status_code, response.content) == (304, b"")


def test_head_answers_headers_only(video):
    blob, _content = video

    response = get(blob, method="head", HTTP_RANGE="bytes=10-19")

    assert (response.status_code, response["Content-Length"], response.content) == (206, "10", b"")


def test_an_empty_blob(put):
    blob = put(b"", mime="text/plain")

    response = get(blob)

    assert (response.status_code, body(response), response["Content-Length"]) == (200, b"", "0")


@pytest.mark.parametrize(
    "mime", ["text/html", "image/svg+xml", "application/xml", "text/javascript", "application/pdf", "TEXT/HTML; x=1"]
)
def test_unsafe_types_are_served_as_an_octet_stream_attachment(put, mime):
    blob = put(b"<svg onload=alert(1)><script>alert(1)</script></svg>", mime=mime)

    response = get(blob, filename="item.svg", inline=True)

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert (response["X-Content-Type-Options"], response["Content-Security-Policy"]) == ("nosniff", CSP)


def test_text_is_served_as_utf8_plain_text(put):
    blob = put("héllo".encode(), mime="text/plain; charset=latin-1")

    assert get(blob, filename="a.txt")["Content-Type"] == "text/plain; charset=utf-8"


def test_a_download_is_an_attachment(put):
    blob = put(b"\xff\xd8\xff", mime="image/jpeg")

    assert get(blob, inline=False)["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("photo.jpg", "inline; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg"),
        (
            'a"b\r\nSet-Cookie: x.jpg',
            "inline; filename=\"a_bSet-Cookie_ x.jpg\"; filename*=UTF-8''a%22bSet-Cookie%3A%20x.jpg",
        ),
        ("../../etc/passwd", "inline; filename=\"passwd\"; filename*=UTF-8''passwd"),
        ("ümlaut €.png", "inline; filename=\"umlaut .png\"; filename*=UTF-8''%C3%BCmlaut%20%E2%82%AC.png"),
        ("evil\u202egpj.exe", "inline; filename=\"evilgpj.exe\"; filename*=UTF-8''evilgpj.exe"),
        ("", "inline; filename=\"download\"; filename*=UTF-8''download"),
    ],
)
def test_content_disposition_names_are_safe(filename, expected):
    assert content_disposition(filename, inline=True) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=5-", (5, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=5-2", None),
        ("bytes=-", None),
        ("items=0-5", None),
        ("bytes=0-1,3-4", None),
        ("bytes=" + "9" * 5000 + "-", None),
        (None, None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


def test_a_damaged_blob_fails_before_the_response_starts(put, stored_path):
    blob = put(marked_content(1000), mime="image/png")
    path = stored_path(blob)
    data = bytearray(path.read_bytes())
    data[30] ^= 1
    path.write_bytes(bytes(data))

    with pytest.raises(BlobCorrupted):
        get(blob)


def test_under_asgi_the_content_streams_piece_by_piece(video):
    from asgiref.sync import async_to_sync
    from django.test import AsyncRequestFactory

    blob, content = video
    response = serve_blob(AsyncRequestFactory().get("/content"), blob, filename="clip.mp4", inline=True)

    async def collect():
        return [piece async for piece in response.streaming_content]

    pieces = async_to_sync(collect)()
    assert response.is_async
    assert len(pieces) > 2 and b"".join(pieces) == content
