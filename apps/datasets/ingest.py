"""Bulk insert of item rows (manifests): COPY into a staging table, then one INSERT ... SELECT per batch.

PostgreSQL refuses COPY FROM into a table under row-level security, so rows are copied into a
temporary table (no RLS, private to this connection) and moved with a set-based INSERT, which the
tenant policy's WITH CHECK still guards. Everything is streamed: memory stays flat at any row count.

The rows are produced (parsed, validated, their metadata serialised) on a worker thread, one batch
ahead, so the Python work overlaps the database's: while PostgreSQL moves and commits one batch (this
thread waits on the connection with the GIL released), the next one is being parsed.
"""

import functools
import itertools
import json
import mimetypes
import posixpath
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, transaction

from apps.storage.intake import RowError, iter_manifest, kind_from_filename

from .metadata import normalise_folder
from .models import Item

BATCH_ROWS = 50_000

class StagedRow(NamedTuple):  # a NamedTuple: built once per row, three times cheaper than a frozen dataclass
    """One item row ready to insert."""

    name: str
    folder: str
    kind: str
    metadata: dict
    source: str
    mime: str = ""


@dataclass
class IngestResult:
    inserted: int = 0
    rejected: int = 0


_STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS dlsaas_item_stage (
    name text, folder text, kind text, mime text, metadata jsonb, source_url text
) ON COMMIT DELETE ROWS
"""

_MOVE_SQL = f"""
INSERT INTO {Item._meta.db_table}
    (organization_id, dataset_id, kind, name, folder, status, mime, sha256, metadata, source_url, error,
     created_by_id, import_job_id, created_at)
SELECT %s, %s, kind, name, folder, %s, mime, '', metadata, source_url, '', %s, %s, now()
FROM dlsaas_item_stage
"""


def ingest_rows(*, org_id: int, dataset_id: int, actor_id: int | None, rows: Iterable[StagedRow],
                import_job_id: int | None = None, status: str = Item.Status.PENDING,
                on_batch: Callable[[int], None] | None = None) -> int:
    """Inserts the rows in batches of BATCH_ROWS; returns how many went in. `on_batch(total_so_far)`
    runs after each committed batch (progress). `rows` is consumed on a worker thread while this thread's
    connection moves and commits the batch before, so producing a row must never touch the database; an
    exception it raises is raised here, and the batch it was part of is not inserted."""
    total = 0
    with _BatchReader(rows) as reader:
        reader.request()
        while True:
            batch = reader.take()
            copied = len(batch)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_STAGE_SQL)
                if copied:
                    with cursor.copy(
                        "COPY dlsaas_item_stage (name, folder, kind, mime, metadata, source_url) FROM STDIN"
                    ) as copy:
                        write_row = copy.write_row
                        for values in batch:
                            write_row(values)
                del batch  # before the next one is parsed: one batch in memory at a time
                if copied == BATCH_ROWS:
                    reader.request()  # parsed while PostgreSQL moves and commits this batch
                if copied:
                    cursor.execute(_MOVE_SQL, [org_id, dataset_id, status, actor_id, import_job_id])
                    if connection.savepoint_ids:  # nested in a caller's transaction: no COMMIT empties the stage
                        cursor.execute("TRUNCATE dlsaas_item_stage")
            total += copied
            if copied and on_batch is not None:
                on_batch(total)
            if copied < BATCH_ROWS:
                return total


class _BatchReader:
    """Turns StagedRows into COPY-ready tuples, BATCH_ROWS at a time, on a worker thread: `request()` starts
    the next batch, `take()` waits for it. Only one batch is parsed ahead, and none while this thread copies
    (which would only share the GIL), so memory stays flat. Leaving the block stops and joins the thread."""

    def __init__(self, rows: Iterable[StagedRow]) -> None:
        self._rows = rows
        self._asked: queue.SimpleQueue = queue.SimpleQueue()
        self._ready: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ingest-rows", daemon=True)

    def __enter__(self) -> "_BatchReader":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._asked.put(False)
        self._thread.join()

    def request(self) -> None:
        self._asked.put(True)

    def take(self) -> list[tuple]:
        batch = self._ready.get()
        if isinstance(batch, BaseException):
            raise batch
        return batch

    def _run(self) -> None:
        source = iter(self._rows)
        dumps = _metadata_json
        try:
            while self._asked.get():
                self._ready.put([(row.name, row.folder, row.kind, row.mime, dumps(row.metadata), row.source)
                                 for row in itertools.islice(source, BATCH_ROWS)])
        except BaseException as exc:  # raised again by take(), in the caller's thread
            self._ready.put(exc)
        finally:
            if hasattr(source, "close"):
                source.close()  # a generator's cleanup (a file it detaches) runs on the thread that ran it


# One encoder for every row: json.dumps with any option builds a new JSONEncoder per call (twice the cost).
_metadata_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_KINDS = frozenset(Item.Kind.values)  # Kind.values builds a new list on every access
_folder = functools.lru_cache(maxsize=4096)(normalise_folder)  # rows of one folder tend to come together


@functools.lru_cache(maxsize=4096)
def _mime_of_suffix(suffix: str) -> str:
    return mimetypes.guess_type("f" + suffix)[0] or ""


@functools.lru_cache(maxsize=4096)
def _kind_of_suffix(suffix: str) -> str | None:
    return kind_from_filename("f" + suffix)


def stage_manifest_row(row, *, default_folder: str = "/") -> StagedRow:
    """Turns a parsed manifest row (url or storage key, optional name/folder/kind, metadata) into a
    StagedRow; raises ValueError with a message for the row's error report."""
    source = row.url or f"storage:{row.key}"
    name = (row.name or posixpath.basename((row.url or row.key or "").split("?", 1)[0]) or "item")[:500]
    last = name.rfind(".")  # splitext's extension: from the last dot, unless only dots come before it
    kind = row.kind or _kind_of_suffix(name[last:] if last > 0 and name[:last].strip(".") else "")
    if kind not in _KINDS:
        raise ValueError(f"cannot tell the kind of {name!r}: give a 'kind' column ({', '.join(Item.Kind.values)})")
    folder = _folder(row.folder or default_folder)
    dot = name.find(".", 1)  # guess_type reads only the suffixes (".tar.gz", ".jpg"); a leading dot is none
    mime = _mime_of_suffix(name[dot:] if dot > 0 else "")
    return StagedRow(name=name, folder=folder, kind=kind, metadata=row.metadata or {}, source=source, mime=mime)


def manifest_staged_rows(stream, *, filename: str, default_folder: str, errors: list):
    """The manifest's good rows as StagedRows; each bad row appends (row, reference, message) to `errors`.
    Never touches the database, so it can feed ingest_rows while COPY holds the connection."""
    from django.core.exceptions import ValidationError

    for row in iter_manifest(stream, filename=filename):
        if isinstance(row, RowError):
            errors.append((row.row_number, row.reference, row.message))
            continue
        try:
            yield stage_manifest_row(row, default_folder=default_folder)
        except (ValueError, ValidationError) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            errors.append((row.row_number, row.url or row.key, message))
