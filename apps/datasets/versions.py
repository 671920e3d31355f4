"""Dataset versions: immutable Parquet manifests of a dataset at one moment, and the diff between two of them.

A version is one Parquet file per *section*. `items` belongs to this app: one row per item, its metadata as
canonical JSON. Other apps add sections without this app importing them (DESIGN.md: datasets never import
annotations or recipes): they call register_version_section() from their AppConfig.ready(), as
apps/annotations/version_section.py does for `annotations` and `recipe_versions`.

Building (write_manifest) streams the matching items in keyset batches of ITEM_BATCH ids inside one
REPEATABLE READ snapshot, so every section sees the same moment. Each section receives every batch's item ids,
in ascending order, and yields its rows for them; then finish() yields any closing rows (the recipe versions the
annotations used). Rows go out in row groups of at most ROW_GROUP_ROWS rows or about ROW_GROUP_BYTES, so memory
stays bounded whatever the size of the dataset, and each file is sorted by its section's `order` column.

Regenerating a withdrawn version (version_membership.py, version_regeneration.py) builds from the membership kept
at withdrawal instead of the filter: write_manifest takes it as batches of item ids, each with the `pin` values
of the rows a section held (an annotation's `version`), which the section restores rows from (BuildContext.pins).

Diffing (diff_section) walks the two versions' files of a section side by side along that column, a row group or
two at a time (both files are sorted by it, and a row keeps its `order` value from one version to the next: an
annotation never moves to another item), joins each stretch on the section's key with pandas, and counts the
rows added, removed and changed (and which compared columns changed), keeping the first `limit` ids of each.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.db import connection, transaction

ITEMS = "items"
ITEM_BATCH = 2_000
ROW_GROUP_ROWS = 50_000
ROW_GROUP_BYTES = 64 * 1024 * 1024
DIFF_ID_LIMIT = 100
DIFF_COUNT_VALUES = 1_000
PARQUET_MIME = "application/vnd.apache.parquet"
FORMAT_VERSION = "1"

_SECTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def canonical_json(value) -> str | None:
    """JSON with sorted keys and no spaces: equal values give equal strings, so a diff compares strings."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- Sections ------------------------------------------------------------------------------------


class SectionBuild(Protocol):
    """What one section writes during one build."""

    def rows(self, item_ids: list[int]) -> Iterable[dict]:
        """Rows for these items (ascending ids, one keyset batch), sorted by the section's `order` column."""

    def finish(self) -> Iterable[dict]:
        """Rows written after the last batch (sorted after every earlier row)."""


@dataclass
class BuildContext:
    org_id: int
    dataset_id: int
    # Lets a section hand facts to one registered after it (the recipe versions the annotations pinned).
    shared: dict = field(default_factory=dict)
    # None: every section writes its rows as they are now. While regenerating, for the current batch of items,
    # {section: {row key: (item id, pin value)}} of the rows the withdrawn version held: a section with a `pin`
    # column writes those rows as they were at that pin value (a section absent here writes its rows as they are
    # now). It may name items no longer there: write only the rows of the item ids rows() is given.
    pins: dict[str, dict[int, tuple[int, int]]] | None = None
    # What each pinned section could restore: {section: {"restored": n, "missing": n}}.
    pinned: dict[str, Counter] = field(default_factory=dict)

    def note_pins(self, section: str, *, restored: int, missing: int) -> None:
        counts = self.pinned.setdefault(section, Counter())
        counts["restored"] += restored
        counts["missing"] += missing


@dataclass(frozen=True)
class VersionSection:
    name: str
    schema: pa.Schema
    start: Callable[[BuildContext], SectionBuild] | None
    key: str = "id"
    order: str = "id"
    compare: tuple[str, ...] = ()
    count: str | None = None  # a column whose values the diff counts before and after (the label)
    pin: str | None = None  # a column naming the state a row was in (kept at withdrawal, restored on regeneration)

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"


ITEM_SCHEMA = pa.schema([
    ("id", pa.int64()), ("name", pa.string()), ("folder", pa.string()), ("kind", pa.string()),
    ("status", pa.string()), ("mime", pa.string()), ("size", pa.int64()), ("sha256", pa.string()),
    ("width", pa.int64()), ("height", pa.int64()), ("duration", pa.float64()),
    ("metadata", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
])
ITEMS_SECTION = VersionSection(
    name=ITEMS, schema=ITEM_SCHEMA, start=None, compare=("name", "folder", "kind", "metadata", "sha256"),
)
_SECTIONS: dict[str, VersionSection] = {}


def register_version_section(name: str, *, schema: pa.Schema, start: Callable[[BuildContext], SectionBuild],
                             key: str = "id", order: str = "id", compare: tuple[str, ...] = (),
                             count: str | None = None, pin: str | None = None) -> VersionSection:
    """Adds a section to every version built from now on (call it from your AppConfig.ready()).

    `start(context)` returns the SectionBuild of one build. `key` identifies a row across versions, `order` is
    the column the rows come sorted by (ascending, never changing for a row across versions), `compare` the
    columns whose change makes a row "changed", `count` a column whose values the diff counts. `pin` (optional)
    names the integer column that identifies the state of a row (its revision), and then `order` must be the item
    id: a withdrawn version keeps (key, item, pin) of its rows, and its regeneration asks the section for those
    states through BuildContext.pins.
    """
    if name == ITEMS or not _SECTION_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name a version section: use lowercase letters, digits and _.")
    missing = {key, order, *compare, *([count] if count else []), *([pin] if pin else [])} - set(schema.names)
    if missing:
        raise ValueError(f"Section {name!r} names columns its schema lacks: {', '.join(sorted(missing))}.")
    section = VersionSection(name=name, schema=schema, start=start, key=key, order=order, compare=tuple(compare),
                             count=count, pin=pin)
    _SECTIONS[name] = section
    return section


def version_sections() -> list[VersionSection]:
    """Every section, `items` first, then in registration order (the order they are built in)."""
    return [ITEMS_SECTION, *_SECTIONS.values()]


def version_section(name: str) -> VersionSection | None:
    return ITEMS_SECTION if name == ITEMS else _SECTIONS.get(name)


# --- Building ------------------------------------------------------------------------------------


def _approx_bytes(row: dict) -> int:
    return 8 * len(row) + sum(len(value) for value in row.values() if isinstance(value, str))


class _ParquetSink:
    """Rows in, row groups out: buffers at most ROW_GROUP_ROWS rows or about ROW_GROUP_BYTES."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.buffer: list[dict] = []
        self.pending_bytes = 0
        self.rows = 0

    def add(self, row: dict) -> None:
        self.buffer.append(row)
        self.rows += 1
        self.pending_bytes += _approx_bytes(row)
        if len(self.buffer) >= ROW_GROUP_ROWS or self.pending_bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema),
                                    row_group_size=len(self.buffer))
            self.buffer, self.pending_bytes = [], 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.writer.close()


@contextmanager
def _snapshot():
    """One REPEATABLE READ, READ ONLY transaction, so every batch of every section reads the same moment.

    Inside a caller's transaction (tests), or on SQLite (one writer, serialised anyway), that transaction is it.
    """
    if connection.in_atomic_block or connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


_ITEM_FIELDS = ("id", "name", "folder", "kind", "status", "mime", "size", "sha256", "width", "height", "duration",
                "metadata", "created_at")


def _item_row(values: tuple) -> dict:
    row = dict(zip(_ITEM_FIELDS, values, strict=True))
    row["metadata"] = canonical_json(row["metadata"] or {})
    return row


@dataclass(frozen=True)
class WrittenManifest:
    files: dict[str, Path]  # section name -> its Parquet file, in build order
    rows: dict[str, int]
    pinned: dict[str, dict[str, int]] = field(default_factory=dict)  # BuildContext.pinned, when regenerating


def _schema_for(section: VersionSection, version) -> pa.Schema:
    return section.schema.with_metadata({
        "dlsaas.section": section.name, "dlsaas.format": FORMAT_VERSION,
        "dlsaas.dataset_id": str(version.dataset_id), "dlsaas.version": str(version.number),
    })


def _filtered_batches(version, items_until):
    """The items of the version's filter (created by `items_until`, when given), ITEM_BATCH at a time by id."""
    from .selectors import item_filter

    items = item_filter(dataset=version.dataset, filter=version.filter)
    if items_until is not None:
        items = items.filter(created_at__lte=items_until)
    items = items.order_by("pk").values_list(*_ITEM_FIELDS)
    last = 0
    while batch := list(items.filter(pk__gt=last)[:ITEM_BATCH]):
        yield batch, None
        last = batch[-1][0]


def _kept_batches(version, membership):
    """The items of a kept membership that are still in the dataset, batch by batch, with their pins."""
    from .models import Item

    items = Item.objects.for_org(version.organization_id).filter(dataset_id=version.dataset_id)
    for ids, pins in membership:
        batch = list(items.filter(pk__in=ids).order_by("pk").values_list(*_ITEM_FIELDS))
        if batch:
            yield batch, pins


def write_manifest(*, version, directory: Path, progress: Callable[[dict[str, int]], None] | None = None,
                   membership: Iterable[tuple[list[int], dict]] | None = None, items_until=None) -> WrittenManifest:
    """Writes every section's Parquet file of `version` (its dataset, its filter) into `directory`.

    With `membership` (batches of ascending item ids, each with its BuildContext.pins) the version holds those
    items that still exist instead of its filter's, and the sections restore the pinned rows. `items_until` keeps
    the filter's items to those created by then. `progress(rows_by_section)` is called after each batch of items.
    """
    directory = Path(directory)
    sections = version_sections()
    context = BuildContext(org_id=version.organization_id, dataset_id=version.dataset_id)
    with _snapshot(), ExitStack() as stack:
        sinks = {s.name: stack.enter_context(_ParquetSink(directory / s.filename, _schema_for(s, version)))
                 for s in sections}
        builds = [(s.name, s.start(context)) for s in sections if s.start is not None]
        batches = (_filtered_batches(version, items_until) if membership is None
                   else _kept_batches(version, membership))
        for batch, pins in batches:
            for values in batch:
                sinks[ITEMS].add(_item_row(values))
            ids = [values[0] for values in batch]
            context.pins = pins
            for name, build in builds:
                for row in build.rows(ids):
                    sinks[name].add(row)
            if progress is not None:
                progress({name: sink.rows for name, sink in sinks.items()})
        context.pins = None
        for name, build in builds:
            for row in build.finish():
                sinks[name].add(row)
    return WrittenManifest(files={name: sink.path for name, sink in sinks.items()},
                           rows={name: sink.rows for name, sink in sinks.items()},
                           pinned={name: dict(counts) for name, counts in context.pinned.items()})


# --- Diffing -------------------------------------------------------------------------------------


class _Side:
    """One file of a section, read a row group at a time into a buffer sorted by the `order` column."""

    def __init__(self, source: pq.ParquetFile | None, *, columns: list[str], order: str, empty: pd.DataFrame):
        self.source, self.columns, self.order = source, columns, order
        self.groups = source.num_row_groups if source is not None else 0
        self.next_group = 0
        self.buffer = empty
        self.loaded_max = -math.inf

    @property
    def exhausted(self) -> bool:
        return self.next_group >= self.groups

    @property
    def horizon(self):
        """Every row whose order value is below this is in the buffer (or was taken)."""
        return math.inf if self.exhausted else self.loaded_max

    def load(self) -> None:
        frame = self.source.read_row_group(self.next_group, columns=self.columns).to_pandas()
        self.next_group += 1
        if len(frame):
            self.loaded_max = frame[self.order].iloc[-1]
            self.buffer = frame if self.buffer.empty else pd.concat([self.buffer, frame], ignore_index=True)

    def take_below(self, frontier) -> pd.DataFrame:
        if frontier == math.inf:
            taken, self.buffer = self.buffer, self.buffer.iloc[0:0]
            return taken
        below = self.buffer[self.order] < frontier
        taken, self.buffer = self.buffer[below], self.buffer[~below]
        return taken


def _aligned_stretches(before: _Side, after: _Side):
    """(before rows, after rows) stretches covering both files, each holding, on both sides, every row whose
    order value falls in it. Holds at most about two row groups per side at a time."""
    sides = (before, after)
    while True:
        if before.exhausted and after.exhausted:
            yield before.take_below(math.inf), after.take_below(math.inf)
            return
        behind = min((side for side in sides if not side.exhausted), key=lambda side: side.horizon)
        behind.load()
        frontier = min(side.horizon for side in sides)
        if frontier != -math.inf:
            yield before.take_below(frontier), after.take_below(frontier)


def _differs(before: pd.Series, after: pd.Series) -> pd.Series:
    both_missing = before.isna() & after.isna()
    return (before != after) & ~both_missing


class _Tally:
    def __init__(self, section: VersionSection, limit: int):
        self.section, self.limit = section, limit
        self.ids = {"added": [], "removed": [], "changed": []}
        self.counts = Counter()
        self.columns = Counter()
        self.unchanged = 0
        self.values_before, self.values_after = Counter(), Counter()

    def _note(self, kind: str, ids: pd.Series) -> None:
        self.counts[kind] += len(ids)
        room = self.limit - len(self.ids[kind])
        if room > 0:
            self.ids[kind].extend(int(pk) for pk in ids.iloc[:room])

    def add(self, before: pd.DataFrame, after: pd.DataFrame) -> None:
        section, key = self.section, self.section.key
        if section.count:
            self.values_before.update(before[section.count].dropna().value_counts().to_dict())
            self.values_after.update(after[section.count].dropna().value_counts().to_dict())
        merged = before.merge(after, on=key, how="outer", suffixes=("_before", "_after"), indicator=True, sort=True)
        self._note("removed", merged.loc[merged["_merge"] == "left_only", key])
        self._note("added", merged.loc[merged["_merge"] == "right_only", key])
        both = merged[merged["_merge"] == "both"]
        changed = pd.Series(False, index=both.index)
        for column in section.compare:
            differs = _differs(both[f"{column}_before"], both[f"{column}_after"])
            self.columns[column] += int(differs.sum())
            changed |= differs
        self._note("changed", both.loc[changed, key])
        self.unchanged += int((~changed).sum())

    def result(self) -> dict:
        out = {kind: {"count": self.counts[kind], "ids": self.ids[kind]} for kind in ("added", "removed", "changed")}
        out["changed"]["columns"] = {column: self.columns[column] for column in self.section.compare}
        out["unchanged"] = self.unchanged
        if self.section.count:
            values = sorted(set(self.values_before) | set(self.values_after), key=str)
            out["counts"] = {
                "column": self.section.count,
                "values": [{"value": _plain(value), "before": int(self.values_before[value]),
                            "after": int(self.values_after[value])} for value in values[:DIFF_COUNT_VALUES]],
                "truncated": len(values) > DIFF_COUNT_VALUES,
            }
        return out


def _plain(value):
    """A numpy scalar as the Python value JSON can carry."""
    return value.item() if hasattr(value, "item") else value


def diff_section(section: VersionSection, before: pq.ParquetFile | None, after: pq.ParquetFile | None, *,
                 limit: int = DIFF_ID_LIMIT) -> dict:
    """What changed in one section from `before` to `after` (None: the version has no such file)."""
    columns = list(dict.fromkeys([section.key, section.order, *section.compare,
                                  *([section.count] if section.count else [])]))
    empty = section.schema.empty_table().select(columns).to_pandas()
    tally = _Tally(section, limit)
    sides = [_Side(source, columns=columns, order=section.order, empty=empty) for source in (before, after)]
    for stretch_before, stretch_after in _aligned_stretches(*sides):
        if len(stretch_before) or len(stretch_after):
            tally.add(stretch_before, stretch_after)
    return tally.result()
