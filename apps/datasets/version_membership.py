"""The membership of a withdrawn dataset version: which of its rows were still there when it was withdrawn, kept so
the version can be regenerated without the erased data (version_regeneration.py).

A version's files are deleted when it is withdrawn (they held erased data), and nothing else records which items
it held: its filter, run again, would select the dataset as it is now. So, just before the files go, the
withdrawal writes one small Parquet file per section: for `items` the ids of the items that still exist, and for
each section with a `pin` column (annotations: their `version`) the key, the item and the pin of every row whose
item still exists. No content is kept: ids and revision numbers only.

Both are read back as batches of ITEM_BATCH item ids, each with {section: {key: (item, pin)}} of those items' rows
(the files are sorted by item id, as the version's were), so memory stays bounded whatever the size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import versions

MEMBERSHIP_SCHEMA = pa.schema([("key", pa.int64()), ("item_id", pa.int64()), ("pin", pa.int64())])
READ_BATCH = 50_000


def write_membership(*, sources: dict[str, pq.ParquetFile], directory: Path,
                     present: Callable[[list[int]], set[int]]) -> versions.WrittenManifest:
    """Writes the kept membership of a version whose section files are `sources` into `directory`.

    `present(ids)` answers which of these item ids still exist. A section with no `pin` (or no longer registered)
    keeps nothing: regeneration writes it as it is now.
    """
    directory = Path(directory)
    gone: set[int] = set()
    files, rows = {}, {}
    if versions.ITEMS not in sources:
        return versions.WrittenManifest(files={}, rows={})
    with versions._ParquetSink(directory / "items.parquet", MEMBERSHIP_SCHEMA) as sink:
        for batch in sources[versions.ITEMS].iter_batches(batch_size=versions.ITEM_BATCH, columns=["id"]):
            ids = batch.column("id").to_pylist()
            kept = present(ids)
            gone.update(pk for pk in ids if pk not in kept)
            for pk in ids:
                if pk in kept:
                    sink.add({"key": pk, "item_id": pk, "pin": None})
    files[versions.ITEMS], rows[versions.ITEMS] = sink.path, sink.rows
    for name, source in sources.items():
        section = versions.version_section(name)
        if name == versions.ITEMS or section is None or section.pin is None:
            continue
        with versions._ParquetSink(directory / f"{name}.parquet", MEMBERSHIP_SCHEMA) as sink:
            columns = [section.key, section.order, section.pin]
            for batch in source.iter_batches(batch_size=READ_BATCH, columns=columns):
                for key, item_id, pin in zip(*(batch.column(c).to_pylist() for c in columns), strict=True):
                    if item_id not in gone:
                        sink.add({"key": key, "item_id": item_id, "pin": pin})
        files[name], rows[name] = sink.path, sink.rows
    return versions.WrittenManifest(files=files, rows=rows)


class _PinCursor:
    """One pinned section's kept rows, handed out item range by item range."""

    def __init__(self, source: pq.ParquetFile):
        self.batches = source.iter_batches(batch_size=READ_BATCH, columns=["key", "item_id", "pin"])
        self.pending: deque = deque()
        self.exhausted = False

    def up_to(self, last_item: int) -> dict[int, tuple[int, int]]:
        taken = {}
        while True:
            while self.pending and self.pending[0][1] <= last_item:
                key, item_id, pin = self.pending.popleft()
                taken[key] = (item_id, pin)
            if self.pending or self.exhausted:
                return taken
            batch = next(self.batches, None)
            if batch is None:
                self.exhausted = True
                return taken
            self.pending.extend(zip(*(batch.column(c).to_pylist() for c in ("key", "item_id", "pin")), strict=True))


def read_membership(files: dict[str, pq.ParquetFile]) -> Iterator[tuple[list[int], dict]]:
    """The kept membership as write_manifest takes it, batch by batch: (ascending item ids,
    {section: {key: (item id, pin)}} of those items' rows)."""
    cursors = {name: _PinCursor(source) for name, source in files.items() if name != versions.ITEMS}
    for batch in files[versions.ITEMS].iter_batches(batch_size=versions.ITEM_BATCH, columns=["key"]):
        ids = batch.column("key").to_pylist()
        if ids:
            yield ids, {name: cursor.up_to(ids[-1]) for name, cursor in cursors.items()}
