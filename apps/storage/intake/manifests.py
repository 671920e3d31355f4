"""Streaming parsers for manifests: one item per CSV row or JSONL line, in bounded memory.

Each row names its content by `url` (fetched later through `safe_fetch`) or `key` (an object already in
storage; the caller must resolve it within the organisation), never both, and may give `name`,
`folder`, `kind` and metadata. The parsers yield, in file order, `ManifestRow` for a good row and
`RowError(row_number, reference, message)` for a bad one, and go on; only a problem with the file as
a whole (a bad CSV header, more than `max_rows` rows) raises IntakeError. `row_number` is the line
of the file where the row starts (the CSV header is line 1), as an editor or a spreadsheet shows it.

CSV:
- UTF-8 (a BOM is fine); a header row names the columns, case-insensitively: url, key, name, folder,
  kind, metadata (a JSON object in one cell) and `metadata.<key>` columns (`metadata.camera`;
  `metadata.camera.make` nests: {"camera": {"make": ...}}). An unknown column is a header error, so a
  typo ("URL " is fine, "adress" is not) cannot silently drop data.
- A `metadata.<key>` cell is stored as a JSON number when it is one by JSON's grammar and fits a
  double exactly (integers up to 2**53: longer numbers stay strings so IDs are not rounded), as a
  boolean when it is exactly `true` or `false`, and as the string otherwise ("007", "1.0e", "NaN",
  "TRUE" stay strings). Empty cells are left out (a CSV cannot tell empty from missing).
JSONL: one JSON object per line with the same keys; `metadata` must be an object; NaN and Infinity are
refused (PostgreSQL JSONB cannot hold them). Blank lines are skipped.

Limits per row: the row's line(s) up to 1 MB, metadata up to 16 KB (compact JSON, UTF-8) and 10
levels deep, names up to 500 characters, folders up to 1000, URLs up to 2000.

Formula and markup payloads (`=HYPERLINK(...)`, `<script>`) in names and metadata are data: they are
stored as given, escaped by every page and neutralised by every CSV/XLSX export, never rejected here.
"""

import codecs
import csv
import functools
import io
import itertools
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import IO, NamedTuple

from .conf import setting
from .errors import IntakeError, shown
from .sniff import KINDS
from .urls import validate_url

MAX_ROW_CHARS = 1024 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 10
MAX_NAME_CHARS = 500
MAX_FOLDER_CHARS = 1000
MAX_KEY_CHARS = 1024
MAX_REFERENCE_CHARS = 200
BASE_COLUMNS = ("url", "key", "name", "folder", "kind", "metadata")
MANIFEST_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# Controls (C0, DEL, C1), path separators and bidi overrides/isolates: never in a name.
_BAD_NAME = re.compile("[\x00-\x1f\x7f-\x9f/\\\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BAD_PATH = re.compile("[\x00-\x1f\x7f-\x9f\\\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
# What PostgreSQL text and JSONB cannot hold: NUL, and a surrogate (only a JSON escape such as "\ud800" without its
# pair can leave one in a decoded string). One such row would otherwise fail the COPY of its whole batch.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_MESSAGE = "The row contains a NUL character or an unpaired UTF-16 surrogate escape, which cannot be stored."
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_JSON_SAFE_INT = 2**53
_KINDS = frozenset(KINDS)


class ManifestRow(NamedTuple):
    row_number: int
    url: str | None
    key: str | None
    name: str | None  # None: the caller derives one from the URL or key
    folder: str | None  # "/a/b"; None: the import's own folder
    kind: str | None  # None: from the content
    metadata: dict


class RowError(NamedTuple):
    row_number: int
    reference: str  # the row's url, key or name, cut short: what a person looks for in the file
    message: str


class _RowProblem(ValueError):
    pass


def iter_manifest(
    fileobj: IO[bytes], *, filename: str, max_rows: int | None = None
) -> Iterator[ManifestRow | RowError]:
    """CSV or JSONL by the file's extension (.csv, .jsonl, .ndjson)."""
    extension = filename[filename.rfind(".") :].lower() if "." in filename else ""
    parser = {"csv": iter_csv_manifest, "jsonl": iter_jsonl_manifest}.get(MANIFEST_FORMATS.get(extension, ""))
    if parser is None:
        raise IntakeError("unsupported_manifest", f"{shown(filename)} is not a manifest; use a .csv or .jsonl file.")
    return parser(fileobj, max_rows=max_rows)




# --- CSV --------------------------------------------------------------------------------------------
class _Lines:
    """Physical lines of at most MAX_ROW_CHARS; a longer one is skipped and flagged, never held whole."""

    def __init__(self, text: IO[str]) -> None:
        self._readline = text.readline
        self.overlong = False

    def __iter__(self) -> Iterator[str]:
        readline = self._readline
        while line := readline(MAX_ROW_CHARS):
            if len(line) == MAX_ROW_CHARS and line[-1] != "\n":
                while (rest := readline(MAX_ROW_CHARS)) and rest[-1] != "\n":
                    pass
                self.overlong = True
                yield "\n"
                continue
            yield line


class _CsvLayout(NamedTuple):
    width: int
    url: int | None
    key: int | None
    name: int | None
    folder: int | None
    kind: int | None
    metadata: int | None
    flat: tuple[tuple[int, str], ...]  # metadata.<key> columns
    nested: tuple[tuple[int, tuple[str, ...]], ...]  # metadata.<a>.<b> columns


def iter_csv_manifest(fileobj: IO[bytes], *, max_rows: int | None = None) -> Iterator[ManifestRow | RowError]:
    """Rows of a CSV manifest; see the module docstring."""
    max_rows = max_rows if max_rows is not None else setting("INTAKE_MANIFEST_MAX_ROWS")
    text = io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_rows(text, max_rows)
    finally:
        text.detach()  # the caller's file stays open


def _csv_rows(text: io.TextIOWrapper, max_rows: int) -> Iterator[ManifestRow | RowError]:
    lines = _Lines(text)
    reader = csv.reader(lines, strict=True)
    read_row = reader.__next__
    layout = None
    checked_ports = _url_ports()
    count = 0
    line_number = 0
    while True:
        start = line_number + 1
        try:
            row = read_row()
        except StopIteration:
            return
        except csv.Error as exc:
            if reader.line_num == line_number:
                raise IntakeError("bad_manifest", f"The CSV cannot be read past line {start} ({exc}).") from None
            line_number = reader.line_num
            yield RowError(start, "", f"This row is not valid CSV ({exc}).")
            continue
        line_number = reader.line_num
        if lines.overlong:
            lines.overlong = False
            yield RowError(start, "", f"This row is longer than {MAX_ROW_CHARS:,} characters.")
            continue
        joined = "".join(row)
        if not joined or joined.isspace():
            continue  # a blank line, or a row of empty cells as spreadsheets export them
        if not joined.isascii() and _SURROGATE.search(joined):
            yield RowError(start, "", "This row is not valid UTF-8; save the file as UTF-8.")
            continue
        if layout is None:
            layout = _csv_layout(row)
            continue
        if "\x00" in joined:
            yield RowError(start, "", _UNSTORABLE_MESSAGE)
            continue
        count += 1
        if count > max_rows:
            raise IntakeError("too_many_rows", f"The manifest has more than {max_rows:,} rows; split it.")
        if len(row) != layout.width and (len(row) < layout.width or any(row[layout.width :])):
            yield RowError(
                start, _reference_of(row, layout), f"This row has {len(row)} values; the header has {layout.width}."
            )
            continue
        try:
            yield _csv_row(start, row, layout, checked_ports)
        except _RowProblem as exc:
            yield RowError(start, _reference_of(row, layout), str(exc))


def _csv_layout(header: list[str]) -> _CsvLayout:
    positions: dict[str, int] = {}
    flat, nested, paths = [], [], []
    for index, raw in enumerate(header):
        column = raw.strip()
        lowered = column.lower()
        if not column:
            raise IntakeError("bad_manifest", f"Column {index + 1} of the CSV header has no name.")
        if lowered in positions:
            raise IntakeError("bad_manifest", f"The CSV header names {shown(column)} twice.")
        if lowered in BASE_COLUMNS:
            positions[lowered] = index
            continue
        if not lowered.startswith("metadata."):
            raise IntakeError(
                "bad_manifest",
                f"The CSV header has an unknown column {shown(column)}; the columns are {', '.join(BASE_COLUMNS)} "
                "and metadata.<key>.",
            )
        positions[lowered] = index
        path = tuple(column[len("metadata.") :].split("."))
        if any(not part or _BAD_PATH.search(part) for part in path):
            raise IntakeError("bad_manifest", f"The CSV column {shown(column)} is not a valid metadata key.")
        if len(path) > MAX_METADATA_DEPTH:
            raise IntakeError(
                "bad_manifest", f"The CSV column {shown(column)} nests deeper than {MAX_METADATA_DEPTH} levels."
            )
        paths.append(path)
        if len(path) == 1:
            flat.append((index, path[0]))
        else:
            nested.append((index, path))
    if "url" not in positions and "key" not in positions:
        raise IntakeError("bad_manifest", "The CSV header needs a 'url' or a 'key' column.")
    ordered = sorted(paths)
    for shorter, longer in itertools.pairwise(ordered):
        if longer[: len(shorter)] == shorter:
            raise IntakeError(
                "bad_manifest",
                f"The CSV columns metadata.{'.'.join(shorter)} and metadata.{'.'.join(longer)} "
                "would put a value and an object under the same key.",
            )
    return _CsvLayout(
        len(header), *(positions.get(column) for column in BASE_COLUMNS), flat=tuple(flat), nested=tuple(nested)
    )


def _csv_row(number: int, row: list[str], layout: _CsvLayout, ports: frozenset[int]) -> ManifestRow:
    url = row[layout.url] if layout.url is not None else ""
    key = row[layout.key] if layout.key is not None else ""
    name = row[layout.name] if layout.name is not None else ""
    folder = row[layout.folder] if layout.folder is not None else ""
    kind = row[layout.kind] if layout.kind is not None else ""
    if layout.metadata is not None and row[layout.metadata].strip():
        metadata = _metadata_from_json_text(row[layout.metadata])
    else:
        metadata = {}
    size = 0
    for index, meta_key in layout.flat:
        value = row[index]
        if value:
            metadata[meta_key] = _scalar(value)
            size += len(value) + len(meta_key)
    for index, path in layout.nested:
        value = row[index]
        if value:
            node = metadata
            for part in path[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[path[-1]] = _scalar(value)
            size += len(value) + sum(map(len, path))
    if size * 6 + 8 * (len(layout.flat) + len(layout.nested)) > MAX_METADATA_BYTES:
        _check_metadata_size(metadata)  # escapes can make JSON up to 6 bytes a character; measure when it may matter
    return _row(number, url or None, key or None, name or None, folder or None, kind or None, metadata, ports)


def _scalar(value: str):
    first = value[0]
    if first == "t" and value == "true":
        return True
    if first == "f" and value == "false":
        return False
    if (first == "-" or "0" <= first <= "9") and (match := _JSON_NUMBER.fullmatch(value)):
        if match.group(1) is None and match.group(2) is None:
            number = int(value)
            return number if -_JSON_SAFE_INT <= number <= _JSON_SAFE_INT else value
        number = float(value)
        return number if math.isfinite(number) else value
    return value


def _reference_of(row: list[str], layout: _CsvLayout) -> str:
    for index in (layout.url, layout.key, layout.name):
        if index is not None and index < len(row) and row[index]:
            return row[index][:MAX_REFERENCE_CHARS]
    return ""


# --- JSONL ------------------------------------------------------------------------------------------
def _refuse_constant(name: str):
    raise _RowProblem(f"The row contains {name}, which JSON data cannot hold; use null or a string.")


_json_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode
_JSONL_FIELDS = frozenset(BASE_COLUMNS)


def iter_jsonl_manifest(fileobj: IO[bytes], *, max_rows: int | None = None) -> Iterator[ManifestRow | RowError]:
    """Rows of a JSONL manifest; see the module docstring."""
    max_rows = max_rows if max_rows is not None else setting("INTAKE_MANIFEST_MAX_ROWS")
    ports = _url_ports()
    readline = fileobj.readline
    limit = MAX_ROW_CHARS
    number = count = 0
    while line := readline(limit + 1):
        number += 1
        if len(line) > limit and line[-1:] != b"\n":
            while (rest := readline(limit)) and rest[-1:] != b"\n":
                pass
            yield RowError(number, "", f"This row is longer than {limit:,} bytes.")
            continue
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[3:]
        try:
            text = line.decode()
        except UnicodeDecodeError:
            yield RowError(number, "", "This row is not valid UTF-8; save the file as UTF-8.")
            continue
        if text.isspace() or not text:
            continue
        count += 1
        if count > max_rows:
            raise IntakeError("too_many_rows", f"The manifest has more than {max_rows:,} rows; split it.")
        try:
            record = _json_decode(text)
        except _RowProblem as exc:
            yield RowError(number, "", str(exc))
            continue
        except (ValueError, RecursionError) as exc:
            yield RowError(number, "", f"This row is not valid JSON ({_json_reason(exc)}).")
            continue
        if type(record) is not dict:
            yield RowError(number, "", 'Each line must be a JSON object, like {"url": "https://..."}.')
            continue
        if "\\u" in text and not _storable(record):  # raw NUL or surrogates cannot get past decoding
            yield RowError(number, "", _UNSTORABLE_MESSAGE)
            continue
        try:
            yield _jsonl_row(number, record, len(line), ports)
        except _RowProblem as exc:
            yield RowError(number, _reference_of_record(record), str(exc))


def _jsonl_row(number: int, record: dict, line_bytes: int, ports: frozenset[int]) -> ManifestRow:
    if not _JSONL_FIELDS.issuperset(record):
        unknown = sorted(set(record) - _JSONL_FIELDS)[0]
        raise _RowProblem(
            f"The row has an unknown field {shown(unknown)}; the fields are {', '.join(BASE_COLUMNS)} "
            "(put anything else under 'metadata')."
        )
    get = record.get
    values = []
    for field in ("url", "key", "name", "folder", "kind"):
        value = get(field)
        if value is not None and type(value) is not str:
            raise _RowProblem(f"'{field}' must be a string.")
        values.append(value or None)
    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise _RowProblem('\'metadata\' must be a JSON object, like {"camera": "A"}.')
    elif metadata:
        _check_metadata_depth(metadata)
        if line_bytes * 3 > MAX_METADATA_BYTES:  # re-serialised JSON is at most ~3x its source ("1e9")
            _check_metadata_size(metadata)
    return _row(number, *values, metadata, ports)


def _reference_of_record(record: dict) -> str:
    for field in ("url", "key", "name"):
        value = record.get(field)
        if isinstance(value, str) and value:
            return value[:MAX_REFERENCE_CHARS]
    return ""


def _json_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(":", 1)[0][:120]


# --- One row, either format -------------------------------------------------------------------------
def _row(
    number: int,
    url: str | None,
    key: str | None,
    name: str | None,
    folder: str | None,
    kind: str | None,
    metadata: dict,
    ports: frozenset[int],
) -> ManifestRow:
    if url is None and key is None:
        raise _RowProblem("The row needs a 'url' or a 'key'.")
    if url is not None and key is not None:
        raise _RowProblem("The row gives both a 'url' and a 'key'; give one.")
    if url is not None:
        try:
            validate_url(url, allowed_ports=ports)
        except IntakeError as exc:
            raise _RowProblem(exc.message) from None
    else:
        key = _clean_key(key)
    if name is not None:
        name = _clean_name(name)
    if folder is not None:
        folder = clean_folder(folder)
    if kind is not None and kind not in _KINDS:
        raise _RowProblem(f"{shown(kind)} is not a kind of item; use one of {', '.join(KINDS)}.")
    return ManifestRow(number, url, key, name, folder, kind, metadata)


def _clean_name(name: str) -> str:
    if not name.isascii():
        name = unicodedata.normalize("NFC", name)
    if _BAD_NAME.search(name):
        raise _RowProblem(
            f"The name {shown(name)} contains '/', '\\' or control characters; put folders in the 'folder' column."
        )
    stripped = name.strip()
    if not stripped or stripped.strip(".") == "":
        raise _RowProblem(f"The name {shown(name)} is not a file name.")
    if len(name) > MAX_NAME_CHARS:
        raise _RowProblem(f"The name is longer than {MAX_NAME_CHARS} characters.")
    return name


@functools.lru_cache(maxsize=4096)  # rows of one folder come together; the answer depends on the text only
def clean_folder(folder: str) -> str:
    """A virtual folder as "/a/b": separators collapsed; `..`, `.`-only parts and control characters refused."""
    if not folder.isascii():
        folder = unicodedata.normalize("NFC", folder)
    if _BAD_PATH.search(folder):
        raise _RowProblem(f"The folder {shown(folder)} contains backslashes or control characters.")
    parts = [part for part in folder.split("/") if part]
    for part in parts:
        if part.strip(" .") == "" or unicodedata.normalize("NFKC", part) in (".", ".."):
            raise _RowProblem(f"The folder {shown(folder)} contains '..' or '.'; give a plain path like /train/cats.")
    cleaned = "/" + "/".join(parts)
    if len(cleaned) > MAX_FOLDER_CHARS:
        raise _RowProblem(f"The folder is longer than {MAX_FOLDER_CHARS} characters.")
    return cleaned


def _clean_key(key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        raise _RowProblem(f"The key is longer than {MAX_KEY_CHARS} characters.")
    if _BAD_PATH.search(key) or key.startswith("/"):
        raise _RowProblem(f"The key {shown(key)} starts with '/' or contains backslashes or control characters.")
    if any(part in (".", "..") for part in key.split("/")):
        raise _RowProblem(f"The key {shown(key)} contains '..' or '.' as a path part.")
    return key


def _metadata_from_json_text(text: str) -> dict:
    try:
        value = _json_decode(text)
    except _RowProblem:
        raise
    except (ValueError, RecursionError) as exc:
        raise _RowProblem(f"The metadata cell is not valid JSON ({_json_reason(exc)}).") from None
    if type(value) is not dict:
        raise _RowProblem('The metadata cell must be a JSON object, like {"camera": "A"}.')
    if "\\u" in text and not _storable(value):
        raise _RowProblem(_UNSTORABLE_MESSAGE)
    _check_metadata_depth(value)
    if len(text) * 3 > MAX_METADATA_BYTES:
        _check_metadata_size(value)
    return value


def _check_metadata_depth(metadata: dict) -> None:
    """Iteratively, so a depth bomb costs a loop, not the stack."""
    stack = [(metadata, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise _RowProblem(f"The metadata is nested deeper than {MAX_METADATA_DEPTH} levels.")
        children = node.values() if type(node) is dict else node
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))


def _storable(value) -> bool:
    """No string in the decoded JSON value, key or value, holds what PostgreSQL refuses. Iterative: depth bombs
    were refused by the decoder (RecursionError) before this runs."""
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for key, child in node.items():
                if _UNSTORABLE.search(key):
                    return False
                stack.append(child)
        elif type(node) is list:
            stack.extend(node)
        elif type(node) is str and _UNSTORABLE.search(node):
            return False
    return True


def _check_metadata_size(metadata: dict) -> None:
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > MAX_METADATA_BYTES:
        raise _RowProblem(f"The metadata is {size:,} bytes of JSON; the limit is {MAX_METADATA_BYTES:,}.")


def _url_ports() -> frozenset[int]:
    return frozenset(setting("URL_IMPORT_ALLOWED_PORTS")) | frozenset(setting("URL_IMPORT_ALLOW_LOOPBACK_PORTS"))
