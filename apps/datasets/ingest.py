"""Bulk insert of item rows (manifests): COPY into a staging table, then one INSERT ... SELECT per batch.

PostgreSQL refuses COPY FROM into a table under row-level security, so rows are copied into a
temporary table (no RLS, private to this connection) and moved with a set-based INSERT, which the
tenant policy's WITH CHECK still guards. Everything is streamed: memory stays flat at any row count.
"""

import functools
import json
import mimetypes
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from apps.storage.intake import RowError, iter_manifest, kind_from_filename

from .metadata import normalise_folder
from .models import Item

BATCH_ROWS = 50_000

@dataclass(frozen=True)
class StagedRow:
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
    runs after each committed batch (progress). `rows` is consumed while COPY holds the connection, so
    producing a row must never query the database."""
    total = 0
    rows = iter(rows)
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_STAGE_SQL)
            copied = 0
            with cursor.copy(
                "COPY dlsaas_item_stage (name, folder, kind, mime, metadata, source_url) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row((row.name, row.folder, row.kind, row.mime,
                                    json.dumps(row.metadata, ensure_ascii=False), row.source))
                    copied += 1
                    if copied >= BATCH_ROWS:
                        break
            if copied:
                cursor.execute(_MOVE_SQL, [org_id, dataset_id, status, actor_id, import_job_id])
        total += copied
        if copied and on_batch is not None:
            on_batch(total)
        if copied < BATCH_ROWS:
            return total


_KINDS = frozenset(Item.Kind.values)  # Kind.values builds a new list on every access
_folder = functools.lru_cache(maxsize=4096)(normalise_folder)  # rows of one folder tend to come together


@functools.lru_cache(maxsize=4096)
def _mime_of_suffix(suffix: str) -> str:
    return mimetypes.guess_type("f" + suffix)[0] or ""


def stage_manifest_row(row, *, default_folder: str = "/") -> StagedRow:
    """Turns a parsed manifest row (url or storage key, optional name/folder/kind, metadata) into a
    StagedRow; raises ValueError with a message for the row's error report."""
    source = row.url or f"storage:{row.key}"
    name = (row.name or posixpath.basename((row.url or row.key or "").split("?", 1)[0]) or "item")[:500]
    kind = row.kind or kind_from_filename(name)
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
