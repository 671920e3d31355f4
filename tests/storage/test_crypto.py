"""The chunked AES-GCM format on its own: no database, no backend."""

import io

import pytest
from cryptography.exceptions import InvalidTag

from apps.storage import crypto
from apps.storage.errors import BlobCorrupted, BlobTooLarge

from .content import marked_content

CHUNK = 4096
KEY = bytes(range(32))
BLOB_KEY = "org/1/2026/01/abc"


def encrypt(content: bytes, *, chunk_size: int = CHUNK, blob_key: str = BLOB_KEY) -> bytes:
    return crypto.EncryptingReader(io.BytesIO(content), data_key=KEY, blob_key=blob_key, chunk_size=chunk_size).read()


def reader(ciphertext: bytes, size: int, *, chunk_size: int = CHUNK, blob_key: str = BLOB_KEY, key: bytes = KEY):
    return crypto.DecryptingReader(
        io.BytesIO(ciphertext), data_key=key, blob_key=blob_key, size=size, chunk_size=chunk_size
    )


def sealed_chunk(ciphertext: bytes, index: int, chunk_size: int = CHUNK) -> slice:
    start = crypto.HEADER.size + index * (chunk_size + crypto.TAG_BYTES)
    return slice(start, start + chunk_size + crypto.TAG_BYTES)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip_at_chunk_boundaries(size):
    content = marked_content(size)

    ciphertext = encrypt(content)

    assert len(ciphertext) == crypto.ciphertext_size(size, CHUNK)
    assert reader(ciphertext, size).read() == content


def test_header_names_the_format_and_chunk_size():
    magic, version, chunk_size, _prefix = crypto.HEADER.unpack(encrypt(b"x")[: crypto.HEADER.size])

    assert (magic, version, chunk_size) == (b"DLSB", 1, CHUNK)


def test_size_and_sha256_are_computed_while_streaming():
    import hashlib

    content = marked_content(5 * CHUNK + 3)
    stream = crypto.EncryptingReader(io.BytesIO(content), data_key=KEY, blob_key=BLOB_KEY, chunk_size=CHUNK)

    stream.read()

    assert (stream.plaintext_size, stream.sha256) == (len(content), hashlib.sha256(content).hexdigest())


def test_two_encryptions_of_the_same_content_differ():
    assert encrypt(b"same content") != encrypt(b"same content")


def test_swapped_chunks_fail_authentication():
    content = marked_content(3 * CHUNK)
    ciphertext = bytearray(encrypt(content))
    first, second = sealed_chunk(ciphertext, 0), sealed_chunk(ciphertext, 1)
    ciphertext[first], ciphertext[second] = ciphertext[second], ciphertext[first]

    with pytest.raises(BlobCorrupted, match="chunk 0"):
        reader(bytes(ciphertext), len(content)).read()


def test_cut_at_a_chunk_boundary_is_detected_even_with_a_matching_size():
    content = marked_content(3 * CHUNK)
    ciphertext = encrypt(content)
    cut = ciphertext[: sealed_chunk(ciphertext, 1).stop]

    with pytest.raises(BlobCorrupted, match="failed authentication"):
        # The reader is told the content is 2 chunks long: chunk 1 was not sealed as the final one.
        reader(cut, 2 * CHUNK).read()


def test_bytes_appended_after_the_last_chunk_are_detected():
    content = marked_content(CHUNK + 5)

    with pytest.raises(BlobCorrupted, match="past its last chunk"):
        reader(encrypt(content) + b"\0", len(content)).read()


def test_a_changed_header_is_detected():
    content = marked_content(100)
    ciphertext = bytearray(encrypt(content))
    ciphertext[crypto.HEADER.size - 1] ^= 1  # the nonce prefix

    with pytest.raises(BlobCorrupted):
        reader(bytes(ciphertext), len(content)).read()


def test_ciphertext_moved_to_another_blob_key_does_not_decrypt():
    content = b"belongs to one object"

    with pytest.raises(BlobCorrupted):
        reader(encrypt(content), len(content), blob_key="org/1/2026/01/other").read()


def test_an_empty_object_still_authenticates_its_chunk():
    with pytest.raises(BlobCorrupted):
        reader(encrypt(b""), 0, key=bytes(32)).read()


def test_seek_reads_only_what_is_asked_across_a_chunk_boundary():
    content = marked_content(4 * CHUNK)
    stream = reader(encrypt(content), len(content))

    stream.seek(CHUNK - 10)
    middle = stream.read(20)
    stream.seek(-7, io.SEEK_END)
    tail = stream.read()

    assert (middle, tail, stream.tell()) == (content[CHUNK - 10 : CHUNK + 10], content[-7:], len(content))


def test_max_bytes_stops_the_stream():
    stream = crypto.EncryptingReader(
        io.BytesIO(b"x" * (CHUNK + 1)), data_key=KEY, blob_key=BLOB_KEY, chunk_size=CHUNK, max_bytes=CHUNK
    )

    with pytest.raises(BlobTooLarge):
        stream.read()


def test_text_streams_are_refused():
    stream = crypto.EncryptingReader(io.StringIO("text"), data_key=KEY, blob_key=BLOB_KEY, chunk_size=CHUNK)

    with pytest.raises(TypeError, match="binary"):
        stream.read()


def test_wrapped_keys_are_bound_to_their_associated_data():
    wrapped = crypto.wrap(KEY, b"k" * 32, crypto.org_key_aad(org_id=1, version=1, master_key_id="m1"))

    with pytest.raises(InvalidTag):
        crypto.unwrap(KEY, wrapped, crypto.org_key_aad(org_id=2, version=1, master_key_id="m1"))
