"""Which backend holds a region's bytes (settings.STORAGE_BACKENDS), and reading from it.

Each region in settings.REGIONS has exactly one backend: a local directory (settings.STORAGE_ROOTS, for the
embedded mode, tests and single-host deployments) or an S3-compatible bucket (settings.STORAGE_S3). Nothing
here knows about organisations: services.py decides which region an organisation's bytes may touch.
"""

import io
import threading

from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from storages.backends.s3 import S3Storage

_backends: dict[str, Storage] = {}
_lock = threading.Lock()
_SETTINGS = {"REGIONS", "STORAGE_BACKENDS", "STORAGE_ROOTS", "STORAGE_S3"}

# Bounded waits: a slow or hung bucket fails a request instead of holding a worker forever.
_S3_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3, "mode": "standard"}}


@receiver(setting_changed)
def _forget_backends(*, setting, **kwargs):
    if setting in _SETTINGS:
        with _lock:
            _backends.clear()


def backend_for(region: str) -> Storage:
    """The Django Storage holding `region`'s bytes (one instance per region and process)."""
    backend = _backends.get(region)
    if backend is None:
        with _lock:
            backend = _backends.get(region) or _build(region)
            _backends[region] = backend
    return backend


def _build(region: str) -> Storage:
    if region not in settings.REGIONS:
        raise ImproperlyConfigured(f"Unknown region {region!r}; configured regions: {', '.join(settings.REGIONS)}.")
    kind = settings.STORAGE_BACKENDS.get(region, "local")
    if kind == "local":
        return FileSystemStorage(
            location=settings.STORAGE_ROOTS[region], base_url=None,
            file_permissions_mode=0o600, directory_permissions_mode=0o700,
        )
    if kind == "s3":
        options = settings.STORAGE_S3[region]
        return S3Storage(
            bucket_name=options["bucket_name"],
            endpoint_url=options.get("endpoint_url"),
            access_key=options.get("access_key"),
            secret_key=options.get("secret_key"),
            region_name=options.get("region_name"),
            # Keys are random and never reused: refuse to overwrite rather than rename silently.
            file_overwrite=False,
            default_acl=None,
            querystring_auth=True,
            location="",
            gzip=False,
            client_config=Config(
                s3={"addressing_style": options.get("addressing_style")}, signature_version="s3v4", **_S3_TIMEOUTS
            ),
        )
    raise ImproperlyConfigured(f"Region {region!r} has an unknown storage backend {kind!r}.")


def is_local(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


def open_stored(storage: Storage, name: str):
    """A readable, seekable binary stream over a stored object, read lazily.

    On S3 it reads through ranged GETs (a seek far away costs one new request, sequential reads share one),
    never downloading the whole object first. Raises FileNotFoundError when the object is not there.
    """
    if isinstance(storage, S3Storage):
        return S3ObjectReader(storage.bucket.meta.client, storage.bucket_name, name)
    return storage.open(name, "rb")


class S3ObjectReader(io.RawIOBase):
    """A seekable reader of one S3 object by ranged GETs."""

    def __init__(self, client, bucket: str, key: str, *, size: int | None = None) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self.name = key
        self.size = size
        self._pos = 0
        self._body = None
        self._body_pos: int | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            if self.size is None:
                self.size = self.head()
            base = self.size
        else:
            base = 0 if whence == io.SEEK_SET else self._pos
        if base + offset < 0:
            raise ValueError("Negative seek position.")
        self._pos = base + offset
        return self._pos

    def head(self) -> int:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"]
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise FileNotFoundError(f"No object {self._key!r} in bucket {self._bucket!r}.") from None
            raise

    def _reopen(self) -> bool:
        self._drop_body()
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-")
        except ClientError as exc:
            code = _code(exc)
            if code in {"InvalidRange", "416"}:
                return False
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise FileNotFoundError(f"No object {self._key!r} in bucket {self._bucket!r}.") from None
            raise
        self._body, self._body_pos = response["Body"], self._pos
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if size == 0 or (self.size is not None and self._pos >= self.size):
            return b""
        if (self._body is None or self._body_pos != self._pos) and not self._reopen():
            return b""
        data = self._body.read() if size is None or size < 0 else self._body.read(size)
        self._pos += len(data)
        self._body_pos = self._pos
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        if not self.closed:
            self._drop_body()
            super().close()


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
