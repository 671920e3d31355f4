"""Streaming parsers for manifests: one item per CSV row or JSONL line, in bounded memory.

Each row names its content by `url` (fetched later through `safe_fetch`) or `key` (an object already in
storage; the caller must resolve it within the organisation), never both, and may give `name`,
`folder`, `kind` and metadata. The parsers yield, in file order, `ManifestRow` for a good row and
`RowError(row_number, reference, message)` for a bad one, and go on; only a problem with the file as
a whole (a bad CSV header, more than `max_rows` rows) raises IntakeError. `row_number` is the line
of the file where the row starts (the CSV header is line 1), as an editor or a spreadsheet shows it.
The checks of one row's values, whichever the format, are manifest_rows.py.

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
import io
import itertools
import math
import re
from collections.abc import Iterator
from typing import IO, NamedTuple

from .conf import setting
from .errors import IntakeError, shown
from .manifest_rows import (
    BAD_PATH,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    UNSTORABLE_MESSAGE,
    ManifestRow,
    RowProblem,
    check_metadata_depth,
    check_metadata_size,
    check_row,
    json_decode,
    json_reason,
    metadata_from_json_text,
    storable,
    url_ports,
)

MAX_ROW_CHARS = 1024 * 1024
MAX_REFERENCE_CHARS = 200
BASE_COLUMNS = ("url", "key", "name", "folder", "kind", "metadata")
MANIFEST_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_JSON_SAFE_INT = 2**53


class RowError(NamedTuple):
    row_number: int
    reference: str  # the row's url, key or name, cut short: what a person looks for in the file
    message: str


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
    checked_ports = url_ports()
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
            yield RowError(start, "", UNSTORABLE_MESSAGE)
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
        except RowProblem as exc:
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
        if any(not part or BAD_PATH.search(part) for part in path):
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
        metadata = metadata_from_json_text(row[layout.metadata])
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
        check_metadata_size(metadata)  # escapes can make JSON up to 6 bytes a character; measure when it may matter
    return check_row(number, url or None, key or None, name or None, folder or None, kind or None, metadata, ports)


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
_JSONL_FIELDS = frozenset(BASE_COLUMNS)


def iter_jsonl_manifest(fileobj: IO[bytes], *, max_rows: int | None = None) -> Iterator[ManifestRow | RowError]:
    """Rows of a JSONL manifest; see the module docstring."""
    max_rows = max_rows if max_rows is not None else setting("INTAKE_MANIFEST_MAX_ROWS")
    ports = url_ports()
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
            record = json_decode(text)
        except RowProblem as exc:
            yield RowError(number, "", str(exc))
            continue
        except (ValueError, RecursionError) as exc:
            yield RowError(number, "", f"This row is not valid JSON ({json_reason(exc)}).")
            continue
        if type(record) is not dict:
            yield RowError(number, "", 'Each line must be a JSON object, like {"url": "https://..."}.')
            continue
        if "\\u" in text and not storable(record):  # raw NUL or surrogates cannot get past decoding
            yield RowError(number, "", UNSTORABLE_MESSAGE)
            continue
        try:
            yield _jsonl_row(number, record, len(line), ports)
        except RowProblem as exc:
            yield RowError(number, _reference_of_record(record), str(exc))


def _jsonl_row(number: int, record: dict, line_bytes: int, ports: frozenset[int]) -> ManifestRow:
    if not _JSONL_FIELDS.issuperset(record):
        unknown = sorted(set(record) - _JSONL_FIELDS)[0]
        raise RowProblem(
            f"The row has an unknown field {shown(unknown)}; the fields are {', '.join(BASE_COLUMNS)} "
            "(put anything else under 'metadata')."
        )
    get = record.get
    values = []
    for field in ("url", "key", "name", "folder", "kind"):
        value = get(field)
        if value is not None and type(value) is not str:
            raise RowProblem(f"'{field}' must be a string.")
        values.append(value or None)
    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        raise RowProblem('\'metadata\' must be a JSON object, like {"camera": "A"}.')
    elif metadata:
        check_metadata_depth(metadata)
        if line_bytes * 3 > MAX_METADATA_BYTES:  # re-serialised JSON is at most ~3x its source ("1e9")
            check_metadata_size(metadata)
    return check_row(number, *values, metadata, ports)


def _reference_of_record(record: dict) -> str:
    for field in ("url", "key", "name"):
        value = record.get(field)
        if isinstance(value, str) and value:
            return value[:MAX_REFERENCE_CHARS]
    return ""

