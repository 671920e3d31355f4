"""Encrypted storage throughput against plain file I/O, in the same run (DESIGN.md: data management).

    .venv/bin/python bench/storage_throughput.py [--mb 100] [--repeat 3]
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas .venv/bin/python bench/storage_throughput.py

Streams an N MB source (never held in memory) into a temporary local region root four ways and prints MB/s
(median of --repeat runs) and the ratio to the plain figure:
- raw write / raw read: the same stream copied into and out of a file through the same FileSystemStorage;
- encrypt+write / read+decrypt: the chunked AES-256-GCM format (crypto.py) through that storage;
- blob_put / blob_open: the full services, rows included, when the database is migrated (rolled back after).
Reads come from the page cache for both sides, so the ratio is the CPU cost of the encryption.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlsaas.settings")

import django

django.setup()

from django.core.files import File  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402

from apps.storage import crypto  # noqa: E402

MiB = 1024 * 1024
PIECE = MiB


class PatternStream(io.RawIOBase):
    """`size` bytes of incompressible content, produced as read."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.remaining = size
        self.block = os.urandom(PIECE + 4093)  # an odd length, so reads never line up with chunks
        self.offset = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining, PIECE)
        if size <= 0:
            return b""
        start = self.offset % 4093
        self.offset += size
        self.remaining -= size
        return self.block[start : start + size]


class BigChunks(File):
    DEFAULT_CHUNK_SIZE = 2 * MiB  # a whole sealed chunk per read, as services.blob_put does


def drain(stream) -> int:
    total = 0
    while data := stream.read(PIECE):
        total += len(data)
    return total


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(size: int, root: Path) -> dict[str, float]:
    storage = FileSystemStorage(location=root)
    key = crypto.new_key()
    name_raw, name_enc = f"raw/{os.urandom(8).hex()}", f"enc/{os.urandom(8).hex()}"
    seconds = {}
    seconds["raw write"] = timed(lambda: storage.save(name_raw, BigChunks(PatternStream(size), name=name_raw)))

    def encrypt_write():
        reader = crypto.EncryptingReader(PatternStream(size), data_key=key, blob_key=name_enc, chunk_size=MiB)
        storage.save(name_enc, BigChunks(reader, name=name_enc))

    seconds["encrypt+write"] = timed(encrypt_write)

    def raw_read():
        with storage.open(name_raw, "rb") as f:
            assert drain(f) == size

    def read_decrypt():
        source = storage.open(name_enc, "rb")
        with crypto.DecryptingReader(source, data_key=key, blob_key=name_enc, size=size, chunk_size=MiB) as f:
            assert drain(f) == size

    seconds["raw read"] = timed(raw_read)
    seconds["read+decrypt"] = timed(read_decrypt)
    storage.delete(name_raw)
    storage.delete(name_enc)
    return seconds


def measure_services(size: int, root: Path) -> dict[str, float] | None:
    from django.conf import settings
    from django.db import DatabaseError, transaction

    from apps.storage.regions import backend_for
    from apps.storage.services import blob_open, blob_put
    from apps.tenancy.context import system_context
    from apps.tenancy.models import Organization

    class Rollback(Exception):
        pass

    settings.STORAGE_ROOTS = {region: root / "regions" / region for region in settings.REGIONS}
    seconds = {}
    try:
        with transaction.atomic(), system_context():
            org = Organization.objects.create(name="bench", slug=f"bench-{os.getpid()}", region=settings.REGIONS[0])
            warm_up = blob_put(org=org, stream=io.BytesIO(b"x"))  # imports, the organisation key, directories
            backend_for(org.region).delete(warm_up.key)
            start = time.perf_counter()
            blob = blob_put(org=org, stream=PatternStream(size))
            seconds["blob_put"] = time.perf_counter() - start
            start = time.perf_counter()
            with blob_open(blob) as f:
                assert drain(f) == size
            seconds["blob_open+read"] = time.perf_counter() - start
            backend_for(org.region).delete(blob.key)
            raise Rollback
    except Rollback:
        return seconds
    except DatabaseError as exc:
        print(f"(services skipped: no migrated database: {str(exc).splitlines()[0]})")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size = args.mb * MiB
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="dlsaas-bench-") as tmp:
        for _ in range(args.repeat):
            for label, secs in measure(size, Path(tmp)).items():
                runs.setdefault(label, []).append(secs)
        for _ in range(args.repeat):
            for label, secs in (measure_services(size, Path(tmp)) or {}).items():
                runs.setdefault(label, []).append(secs)
    rate = {label: args.mb / statistics.median(secs) for label, secs in runs.items()}
    print(f"storage throughput, {args.mb} MB stream, median of {args.repeat}, 1 MiB chunks, AES-256-GCM")
    baseline = {"encrypt+write": "raw write", "blob_put": "raw write",
                "read+decrypt": "raw read", "blob_open+read": "raw read"}
    for label, mbps in rate.items():
        ratio = f"  ({mbps / rate[baseline[label]]:.2f}x of {baseline[label]})" if label in baseline else ""
        print(f"  {label:<16} {mbps:8.0f} MB/s{ratio}")


if __name__ == "__main__":
    main()
