"""Envelope encryption with AES-256-GCM, streamed in chunks.

Three layers of keys:
- master keys (settings.STORAGE_MASTER_KEYS, from DLSAAS_MASTER_KEYS) wrap organisation keys;
- an organisation key (OrgKey, one row per version) wraps the data keys of that organisation's objects;
- a data key, random per object, encrypts the object's content.
An object about one data subject (an item whose dataset names a subject key) has its data key wrapped by that
subject's key (SubjectKey, itself wrapped by an organisation key) instead: destroying the subject key on erasure
makes every copy of those objects unreadable, backups of the bucket included (crypto-shredding per person).
Every wrap is AES-GCM with a random 96-bit nonce and associated data naming what the key belongs to, so a
wrapped key copied onto another organisation's row, another version or another object does not unwrap.

The ciphertext of one object is a header and a sequence of chunks:

    header  = b"DLSB" | format version (1 byte) | chunk size (4 bytes, big-endian) | nonce prefix (8 random bytes)
    chunk i = AES-GCM(data key, nonce = prefix | i as 4 bytes big-endian,
                      plaintext = chunk_size bytes (fewer in the last chunk),
                      aad = header | blob key | i | final flag)  ->  ciphertext | 16-byte tag

Each chunk's tag covers the header, the object's key, the chunk's position and whether it is the last one,
so changing, swapping, dropping, appending or cutting off chunks all fail authentication. Every object has
at least one chunk (an empty object has one empty final chunk). Chunk i starts at a computable offset,
so a range read decrypts only the chunks it touches, and nothing is ever held whole in memory.
"""

import hashlib
import io
import os
import struct
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import BlobCorrupted, BlobTooLarge

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAGIC = b"DLSB"
FORMAT_VERSION = 1
HEADER = struct.Struct(">4sBI8s")
MAX_CHUNKS = 2**32


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _aad(label: bytes, *parts: bytes) -> bytes:
    # Length-prefixed, so no two different tuples of parts give the same bytes.
    return label + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def org_key_aad(*, org_id: int, version: int, master_key_id: str) -> bytes:
    return _aad(b"dlsaas/org-key/v1", str(org_id).encode(), str(version).encode(), master_key_id.encode())


def data_key_aad(*, org_id: int, blob_key: str, org_key_version: int) -> bytes:
    return _aad(b"dlsaas/data-key/v1", str(org_id).encode(), blob_key.encode(), str(org_key_version).encode())


def subject_key_aad(*, org_id: int, pseudonym: str, org_key_version: int) -> bytes:
    return _aad(b"dlsaas/subject-key/v1", str(org_id).encode(), pseudonym.encode(), str(org_key_version).encode())


def subject_data_key_aad(*, org_id: int, blob_key: str, subject_key_id: int) -> bytes:
    return _aad(b"dlsaas/subject-data-key/v1", str(org_id).encode(), blob_key.encode(), str(subject_key_id).encode())


def chunk_aad(header: bytes, blob_key: bytes, index: int, final: bool) -> bytes:
    return _aad(b"dlsaas/chunk/v1", header, blob_key, index.to_bytes(4, "big"), b"\x01" if final else b"\x00")


def wrap(kek: bytes, key: bytes, aad: bytes) -> bytes:
    """nonce | AES-GCM(kek, key, aad)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, key, aad)


def unwrap(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """Raises cryptography's InvalidTag when the wrapped key, the kek or the aad do not match."""
    wrapped = bytes(wrapped)
    return AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)


def ciphertext_size(size: int, chunk_size: int) -> int:
    chunks = max(1, -(-size // chunk_size))
    return HEADER.size + size + chunks * TAG_BYTES


class EncryptingReader(io.RawIOBase):
    """Reads plaintext from a binary stream and yields the ciphertext, one chunk at a time.

    While it runs it counts the plaintext (`plaintext_size`) and hashes it (`sha256`, final once read to the
    end). (Not `size`: Django's File would take that for the length of what it reads.)
    Past `max_bytes` of plaintext it raises BlobTooLarge. Not seekable: storage backends stream it.
    """

    def __init__(self, plaintext: IO[bytes], *, data_key: bytes, blob_key: str, chunk_size: int,
                 max_bytes: int | None = None) -> None:
        super().__init__()
        self._src = plaintext
        self._aes = AESGCM(data_key)
        self._blob_key = blob_key.encode()
        self._chunk_size = chunk_size
        self._max_bytes = max_bytes
        self._prefix = os.urandom(8)
        self.header = HEADER.pack(MAGIC, FORMAT_VERSION, chunk_size, self._prefix)
        self._out = memoryview(self.header)
        self._index = 0
        self._lookahead: bytes | None = None
        self._finished = False
        self._hash = hashlib.sha256()
        self.plaintext_size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def finished(self) -> bool:
        return self._finished and not self._out

    def readable(self) -> bool:
        return True

    def _fill(self) -> bytes:
        parts, wanted = [], self._chunk_size
        while wanted:
            data = self._src.read(wanted)
            if data is None:
                raise TypeError("blob_put needs a blocking binary stream.")
            if isinstance(data, str):
                raise TypeError("blob_put needs a binary stream (opened with 'rb'), not a text stream.")
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
            self.plaintext_size += len(data)
            self._hash.update(data)
            if self._max_bytes is not None and self.plaintext_size > self._max_bytes:
                raise BlobTooLarge(self._max_bytes)
        return b"".join(parts)

    def _produce(self) -> bool:
        if self._finished:
            return False
        current = self._fill() if self._lookahead is None else self._lookahead
        following = self._fill() if len(current) == self._chunk_size else b""
        final = not following
        if self._index >= MAX_CHUNKS:
            raise ValueError("Object too large for this chunk size.")
        nonce = self._prefix + self._index.to_bytes(4, "big")
        sealed = self._aes.encrypt(nonce, current, chunk_aad(self.header, self._blob_key, self._index, final))
        self._out = memoryview(sealed)
        self._index += 1
        self._lookahead = following
        self._finished = final
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        while not self._out:
            if not self._produce():
                return b""
        if size >= len(self._out) and self._out.obj is not None and len(self._out) == len(self._out.obj):
            data, self._out = self._out.obj, memoryview(b"")  # a whole sealed chunk: no copy
            return data
        data = self._out[:size].tobytes()
        self._out = self._out[size:]
        return data

    def readall(self) -> bytes:
        parts = []
        while True:
            data = self.read(1 << 20)
            if not data:
                return b"".join(parts)
            parts.append(data)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class DecryptingReader(io.RawIOBase):
    """A readable, seekable plaintext view of one object's ciphertext.

    `source` is a binary stream over the ciphertext with read() and seek(). A seek only moves the
    position; the next read fetches and authenticates the chunk it lands in (one chunk is cached).
    Any failure of authentication, a short or an overlong ciphertext raises BlobCorrupted.
    """

    def __init__(self, source, *, data_key: bytes, blob_key: str, size: int, chunk_size: int, name: str = "") -> None:
        super().__init__()
        self._source = source
        self._aes = AESGCM(data_key)
        self._blob_key = blob_key.encode()
        self.size = size
        self.name = name
        self._chunk_size = chunk_size
        self._last = max(1, -(-size // chunk_size)) - 1
        self._pos = 0
        self._header: bytes | None = None
        self._src_pos: int | None = None
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("Negative seek position.")
        self._pos = base + offset
        return self._pos

    def _read_at(self, offset: int, length: int) -> bytes:
        if self._src_pos != offset:
            self._source.seek(offset)
        parts, got = [], 0
        while got < length:
            data = self._source.read(length - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        self._src_pos = offset + got
        return b"".join(parts)

    def check_header(self) -> bytes:
        """Reads and checks the header once (blob_open calls it, so a missing object fails early)."""
        if self._header is None:
            raw = self._read_at(0, HEADER.size)
            if len(raw) < HEADER.size:
                raise BlobCorrupted(f"{self.name or 'The object'} is cut short: its header is incomplete.")
            magic, version, chunk_size, _prefix = HEADER.unpack(raw)
            if magic != MAGIC or version != FORMAT_VERSION or chunk_size != self._chunk_size:
                raise BlobCorrupted(f"{self.name or 'The object'} does not start with a dlsaas header it can read.")
            self._header = raw
        return self._header

    def _chunk(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        header = self.check_header()
        plain_len = self._chunk_size if index < self._last else self.size - index * self._chunk_size
        offset = HEADER.size + index * (self._chunk_size + TAG_BYTES)
        sealed = self._read_at(offset, plain_len + TAG_BYTES)
        if len(sealed) != plain_len + TAG_BYTES:
            raise BlobCorrupted(f"{self.name or 'The object'} is cut short at chunk {index}.")
        final = index == self._last
        if final and self._read_at(self._src_pos, 1):
            raise BlobCorrupted(f"{self.name or 'The object'} has bytes past its last chunk.")
        nonce = header[-8:] + index.to_bytes(4, "big")
        try:
            plain = self._aes.decrypt(nonce, sealed, chunk_aad(header, self._blob_key, index, final))
        except InvalidTag:
            raise BlobCorrupted(
                f"{self.name or 'The object'} failed authentication at chunk {index}: it was changed or damaged."
            ) from None
        self._cached = (index, plain)
        return plain

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed blob.")
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        if self.size == 0 and self._cached is None:
            self._chunk(0)  # an empty object still has its (empty, final) chunk to authenticate
        parts = []
        while self._pos < end:
            index = self._pos // self._chunk_size
            plain = self._chunk(index)
            start = self._pos - index * self._chunk_size
            take = min(end - self._pos, len(plain) - start)
            parts.append(plain[start : start + take] if (start, take) != (0, len(plain)) else plain)
            self._pos += take
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                self._cached = None
                super().close()
