"""Zip archives, opened as if every byte in them were written by an attacker.

`iter_zip(fileobj)` checks the whole archive before it yields the first entry, so a hostile archive
imports nothing: the entry count (read from the end record before Python's zipfile parses the
central directory), each name (zip-slip: absolute paths, `..`, drive letters, backslash paths; control
and bidi-override characters), symlinks and other special files, encryption, compression methods,
the declared sizes and ratios, and entries whose data overlap (the "overlapping files" zip bomb, which
makes one compressed kernel count as many files). Then it yields `ZipEntry(name, folder, stream)` for
each regular file, whose stream counts the bytes as they are decompressed and stops at the caps
whatever the headers claimed.

Choices:
- Archives inside the archive (depth > 0) are never opened: they are yielded as plain files, and the
  sniffer calls them archives, which are not items; the caller reports them per entry.
- Directories and junk (`__MACOSX/`, `.DS_Store`, `._*` AppleDouble files, `Thumbs.db`, `desktop.ini`)
  are skipped. Two entries with the same name are both yielded (zip allows it; items are not keyed by
  name).
- Names without zip's UTF-8 flag are read as UTF-8 when they decode (what macOS and Linux tools
  write), else as CP437 (the zip standard); then NFC-normalised. `folder` is a virtual path ("/",
  "/train/cats"); `name` is the last component.
- `fileobj` must be seekable (an upload's temporary file or a storage reader).
"""

import contextlib
import io
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, NamedTuple

from .conf import setting
from .errors import IntakeError, shown

MAX_NAME_CHARS = 255
MAX_FOLDER_CHARS = 1000
# Central directory bytes allowed per entry before the directory is parsed (a record is 46 bytes plus
# the name, extra field and comment); keeps a forged directory from costing gigabytes of ZipInfo.
CENTRAL_DIRECTORY_BYTES_PER_ENTRY = 4096
# Small entries may compress far better than max_ratio (a page of spaces); only their size matters.
RATIO_FLOOR_BYTES = 1 << 20
SUPPORTED_COMPRESSION = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
JUNK_FOLDERS = frozenset({"__MACOSX"})
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Desktop.ini"})
# Characters no file name needs and that spoof or break what a person sees: C0/C1 controls,
# bidi overrides and isolates ("invoice\u202egpj.exe" shows as "invoiceexe.jpg").
FORBIDDEN_NAME_CHARS = frozenset(
    [chr(c) for c in range(0x20)] + [chr(0x7F)] + [chr(c) for c in range(0x80, 0xA0)]
    + ["\u200e", "\u200f", "\u061c"] + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)  # fmt: skip
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError)
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


class ZipEntry(NamedTuple):
    name: str
    folder: str
    stream: "EntryStream"


def iter_zip(
    fileobj: IO[bytes],
    *,
    max_entries: int | None = None,
    max_total_bytes: int | None = None,
    max_entry_bytes: int | None = None,
    max_ratio: int | None = None,
) -> Iterator[ZipEntry]:
    """Yield each regular file of a zip archive, after checking all of them; see the module docstring.

    Limits default to the settings INTAKE_ZIP_MAX_ENTRIES, INTAKE_ZIP_MAX_TOTAL_BYTES,
    INTAKE_ZIP_MAX_ENTRY_BYTES and INTAKE_ZIP_MAX_RATIO. Each stream is closed when the next entry is
    yielded, and all of them when the generator is closed or dropped: read an entry before moving on.
    Raises IntakeError (codes: not_a_zip, corrupt, unsupported_archive, too_many_entries, zip_slip,
    bad_name, name_too_long, symlink, special_file, encrypted, unsupported_compression, too_large,
    zip_bomb) before the first yield or, for what only decompressing reveals, while reading.
    """
    limits = _Limits(
        entries=max_entries if max_entries is not None else setting("INTAKE_ZIP_MAX_ENTRIES"),
        total_bytes=max_total_bytes if max_total_bytes is not None else setting("INTAKE_ZIP_MAX_TOTAL_BYTES"),
        entry_bytes=max_entry_bytes if max_entry_bytes is not None else setting("INTAKE_ZIP_MAX_ENTRY_BYTES"),
        ratio=max_ratio if max_ratio is not None else setting("INTAKE_ZIP_MAX_RATIO"),
    )
    _check_end_record(fileobj, limits)
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, *_READ_ERRORS) as exc:
        raise IntakeError("corrupt", f"The zip archive is damaged ({_why(exc)}).") from None
    with archive:
        plan = _plan(archive, limits)
        budget = _Budget(limits)
        for info, name, folder in plan:
            try:
                raw = archive.open(info)
            except _READ_ERRORS as exc:
                raise IntakeError(
                    "corrupt", f"{shown(info.filename)} in the zip archive is damaged ({_why(exc)})."
                ) from None
            stream = EntryStream(
                raw, name=f"{folder.rstrip('/')}/{name}", budget=budget, compressed_size=info.compress_size
            )
            try:
                yield ZipEntry(name, folder, stream)
            finally:
                stream.close()


class _Limits(NamedTuple):
    entries: int
    total_bytes: int
    entry_bytes: int
    ratio: int


class _Budget:
    """Bytes decompressed so far across the archive, against the total cap."""

    def __init__(self, limits: _Limits) -> None:
        self.limits = limits
        self.total = 0


class EntryStream(io.RawIOBase):
    """A zip entry's bytes, counted as they are decompressed: a cap is an IntakeError, not a full disk."""

    def __init__(self, raw: IO[bytes], *, name: str, budget: _Budget, compressed_size: int) -> None:
        super().__init__()
        self._raw = raw
        self.name = name
        self._budget = budget
        self._ratio_cap = max(compressed_size, 1) * budget.limits.ratio
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.closed:
            raise ValueError("I/O operation on a closed zip entry: read each entry before taking the next.")
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view))
        except _READ_ERRORS as exc:
            raise IntakeError("corrupt", f"{shown(self.name)} in the zip archive is damaged ({_why(exc)}).") from None
        count = len(data)
        view[:count] = data
        self._count(count)
        return count

    def _count(self, count: int) -> None:
        self.bytes_read += count
        self._budget.total += count
        limits = self._budget.limits
        if self.bytes_read > limits.entry_bytes:
            raise IntakeError(
                "too_large",
                f"{shown(self.name)} unpacks to more than {_human(limits.entry_bytes)}, the limit per file.",
            )
        if self._budget.total > limits.total_bytes:
            raise IntakeError(
                "too_large", f"The zip archive unpacks to more than {_human(limits.total_bytes)}, the limit."
            )
        if self.bytes_read > RATIO_FLOOR_BYTES and self.bytes_read > self._ratio_cap:
            raise IntakeError(
                "zip_bomb",
                f"{shown(self.name)} unpacks to more than {limits.ratio} times its compressed size: "
                "this looks like a zip bomb.",
            )

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


# --- Checks before the first byte is yielded --------------------------------------------------------
def _check_end_record(fileobj: IO[bytes], limits: _Limits) -> None:
    """Read the entry count and directory size from the end record, before zipfile parses anything."""
    try:
        end = fileobj.seek(0, io.SEEK_END)
        tail_size = min(end, _EOCD.size + 0xFFFF)
        fileobj.seek(end - tail_size)
        tail = fileobj.read(tail_size)
        fileobj.seek(0)
    except (OSError, ValueError) as exc:
        raise IntakeError("not_a_zip", f"The archive cannot be read ({_why(exc)}).") from None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise IntakeError("not_a_zip", "The file is not a zip archive (no end-of-archive record).")
    _sig, disk, cd_disk, _disk_entries, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(tail, at)
    if 0xFFFF in (disk, cd_disk, entries) or cd_size == 0xFFFFFFFF:
        entries, cd_size, disk, cd_disk = _zip64_counts(fileobj, tail, at, end, (entries, cd_size, disk, cd_disk))
    if disk or cd_disk:
        raise IntakeError(
            "unsupported_archive", "Archives split over several files (multi-disk zips) are not accepted."
        )
    if entries > limits.entries:
        raise IntakeError(
            "too_many_entries", f"The zip archive holds {entries:,} entries; the limit is {limits.entries:,}."
        )
    if cd_size > max(limits.entries, 1) * CENTRAL_DIRECTORY_BYTES_PER_ENTRY:
        raise IntakeError(
            "too_many_entries",
            f"The zip archive's directory is {_human(cd_size)}, too large for {limits.entries:,} entries.",
        )


def _zip64_counts(fileobj: IO[bytes], tail: bytes, at: int, end: int, fallback: tuple) -> tuple:
    if at < _ZIP64_LOCATOR.size:
        return fallback
    sig, _disk, record_at, _disks = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
    if sig != b"PK\x06\x07" or record_at + _ZIP64_EOCD.size > end:
        return fallback
    fileobj.seek(record_at)
    record = fileobj.read(_ZIP64_EOCD.size)
    fileobj.seek(0)
    if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        return fallback  # zipfile may still find it after a prefix; it parses under the same caps below
    _sig, _size, _made, _needed, disk, cd_disk, _disk_entries, entries, cd_size, _offset = _ZIP64_EOCD.unpack(record)
    return entries, cd_size, disk, cd_disk


def _plan(archive: zipfile.ZipFile, limits: _Limits) -> list[tuple[zipfile.ZipInfo, str, str]]:
    infos = archive.infolist()
    if len(infos) > limits.entries:
        raise IntakeError(
            "too_many_entries", f"The zip archive holds {len(infos):,} entries; the limit is {limits.entries:,}."
        )
    _check_no_overlap(infos, archive.start_dir)
    plan, declared_total = [], 0
    for info in infos:
        parts = _safe_parts(info)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise IntakeError(
                "symlink", f"{shown(info.orig_filename)} is a symbolic link; archives with links are refused."
            )
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise IntakeError("special_file", f"{shown(info.orig_filename)} is a device, pipe or socket, not a file.")
        if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
            raise IntakeError(
                "encrypted", f"{shown(info.orig_filename)} is encrypted; upload an archive without a password."
            )
        if info.is_dir() or kind == stat.S_IFDIR or not parts:
            continue
        if info.compress_type not in SUPPORTED_COMPRESSION:
            raise IntakeError(
                "unsupported_compression",
                f"{shown(info.orig_filename)} uses compression method {info.compress_type}; "
                "use deflate (what every zip tool writes by default).",
            )
        if _is_junk(parts):
            continue
        if info.file_size > limits.entry_bytes:
            raise IntakeError(
                "too_large",
                f"{shown(info.orig_filename)} unpacks to {_human(info.file_size)}; the limit per file is "
                f"{_human(limits.entry_bytes)}.",
            )
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > max(info.compress_size, 1) * limits.ratio:
            raise IntakeError(
                "zip_bomb",
                f"{shown(info.orig_filename)} unpacks to more than {limits.ratio} times its compressed size: "
                "this looks like a zip bomb.",
            )
        declared_total += info.file_size
        if declared_total > limits.total_bytes:
            raise IntakeError(
                "too_large", f"The zip archive unpacks to more than {_human(limits.total_bytes)}, the limit."
            )
        name, folder = parts[-1], "/" + "/".join(parts[:-1])
        if len(name) > MAX_NAME_CHARS or len(folder) > MAX_FOLDER_CHARS:
            raise IntakeError(
                "name_too_long",
                f"{shown(info.orig_filename)} is too long (names up to {MAX_NAME_CHARS} characters, "
                f"folders up to {MAX_FOLDER_CHARS}).",
            )
        plan.append((info, name, folder))
    return plan


def _check_no_overlap(infos: list[zipfile.ZipInfo], directory_at: int) -> None:
    """Each entry's local header and data must end before the next entry (and the directory) starts."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for info, following in zip(ordered, [*ordered[1:], None], strict=True):
        limit = following.header_offset if following is not None else directory_at
        if info.header_offset < 0 or info.header_offset + 30 + info.compress_size > limit:
            raise IntakeError(
                "zip_bomb", "Entries of the zip archive overlap each other: this is how zip bombs are built."
            )


def _safe_parts(info: zipfile.ZipInfo) -> list[str]:
    raw = info.orig_filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            raw = raw.encode("cp437").decode("utf-8")
    name = unicodedata.normalize("NFC", raw)
    if any(char in FORBIDDEN_NAME_CHARS for char in name):
        raise IntakeError(
            "bad_name", f"{shown(name)} contains control or text-direction characters; rename it and zip again."
        )
    path = name.replace("\\", "/")
    first = path.split("/", 1)[0]
    if path.startswith("/") or (len(first) >= 2 and first[1] == ":" and first[0].isascii() and first[0].isalpha()):
        raise IntakeError("zip_slip", f"{shown(name)} is an absolute path; archives must hold relative paths only.")
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part.strip(" .") == "" or unicodedata.normalize("NFKC", part) in (".", ".."):
            raise IntakeError("zip_slip", f"{shown(name)} climbs out of the archive ('..'); archives must not.")
        parts.append(part)
    return parts


def _is_junk(parts: list[str]) -> bool:
    return bool(JUNK_FOLDERS.intersection(parts[:-1])) or parts[-1] in JUNK_NAMES or parts[-1].startswith("._")


def _human(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}".replace(".0 ", " ")
        count /= 1024
    return f"{count:,.1f} TB"


def _why(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:200]
