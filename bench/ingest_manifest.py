"""Manifest import throughput against a raw COPY of the same rows, in the same run (DESIGN.md: bulk import uses COPY).

    ./scripts/ensure-services.sh
    .venv/bin/python bench/ingest_manifest.py [--rows 1000000] [--keep] [--skip-extra]

Creates a scratch database (`dlsaas_bench_ingest`, owned by the application role, so it inherits the LEAKPROOF
JSONB operators from template1), migrates it, writes an N-row CSV manifest (url, name, folder, metadata.camera,
metadata.frame, metadata.weather) to a temporary file and loads it several ways, connected as the application
role (NOSUPERUSER, NOBYPASSRLS) so row-level security applies as in production:

  (a) pipeline     iter_manifest -> stage_manifest_row -> ingest_rows into a dataset, inside the organisation's
                   tenant context, with an ImportJob and a progress callback, as intake._run_manifest does
  (p) parse only   iter_manifest -> stage_manifest_row with no database: the Python share of (a)
  (b) raw COPY     the CSV bytes straight into an unindexed, RLS-free 6-column table (the baseline for ratios)
  (c0) item COPY   item-shaped rows (a minimal csv.reader + json.dumps per row) into a copy of the item table
                   without indexes, keys or RLS
  (c) +indexes     the same rows into a copy of the item table with the same indexes (btree + GIN), no RLS
  (d) +FKs         as (c) plus the item table's foreign keys as they are (organisation, dataset, user, blob,
                   thumbnail; the import job's has no database constraint since datasets.0004)

(c0) to (c) is the cost of the indexes, (c) to (d) the cost of the foreign-key checks, (d) to (a) what the
pipeline adds (parsing and validation, the staging table, RLS WITH CHECK, status/created_by/import_job).
Peak RSS is this process's high-water mark (ru_maxrss) after each step; the steps run in the order printed,
so a later figure can only be larger. PostgreSQL's own memory is not included. The database is dropped at the
end unless --keep.
"""

import argparse
import contextlib
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import sql

from bench.scratch import create_database, drop_database, setup_django

WEATHER = ("clear", "rain", "fog", "snow")
HEADER = ["url", "name", "folder", "metadata.camera", "metadata.frame", "metadata.weather"]


# --- Scratch database ------------------------------------------------------------------------------


def write_manifest(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(
            (f"https://cdn.example.com/drive-{i % 1000:03d}/frame_{i:08d}.jpg", f"frame_{i:08d}.jpg",
             f"/train/batch-{i % 100:02d}", f"cam{i % 10}", i % 10_000, WEATHER[i % 4])
            for i in range(rows)
        )


def item_rows(path: Path, org_id: int, dataset_id: int, user_id: int, job_id: int):
    """Item-shaped rows from the CSV with the least Python possible: the floor for any COPY-based import. The same
    columns as ingest_rows sets, so the same foreign keys are checked."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        dumps = json.dumps
        for url, name, folder, camera, frame, weather in reader:
            yield (org_id, dataset_id, "image", name, folder, "pending", "image/jpeg",
                   dumps({"camera": camera, "frame": int(frame), "weather": weather}), url, user_id, job_id)


ITEM_COLUMNS = ("organization_id, dataset_id, kind, name, folder, status, mime, metadata, source_url, created_by_id,"
                " import_job_id")


# --- Measurements ---------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(path: Path, org, dataset, user) -> int:
    """(a): what intake._run_manifest does with the stream of an uploaded manifest."""
    from django.db import transaction
    from django.utils import timezone

    from apps.datasets import intake
    from apps.datasets.ingest import ingest_rows, manifest_staged_rows
    from apps.datasets.models import ImportJob, Item
    from apps.tenancy.context import tenant_context

    with tenant_context(org, user):
        job = ImportJob.objects.create(
            organization_id=org.pk, dataset=dataset, source=ImportJob.Source.MANIFEST, folder="/",
            created_by=user, status=ImportJob.Status.RUNNING, started_at=timezone.now(), message=path.name,
        )
        errors = []

        def progress(total: int) -> None:
            ImportJob.objects.for_org(org).filter(pk=job.pk).update(total=total + len(errors))
            job.total = total + len(errors)
            with transaction.atomic():
                intake._broadcast(job)

        with path.open("rb") as stream:
            rows = manifest_staged_rows(stream, filename=job.message, default_folder=job.folder, errors=errors)
            inserted = ingest_rows(org_id=org.pk, dataset_id=dataset.pk, actor_id=user.pk, rows=rows,
                                   import_job_id=job.pk, on_batch=progress)
        if errors:
            raise SystemExit(f"the pipeline rejected {len(errors)} rows, e.g. {errors[0]}")
        stored = Item.objects.for_org(org).filter(dataset=dataset).count()
    if stored != inserted:
        raise SystemExit(f"ingest_rows reported {inserted} rows but the dataset holds {stored}")
    return inserted


def run_parse_only(path: Path) -> int:
    """(p): the pipeline's Python work without the database."""
    from apps.datasets.ingest import stage_manifest_row
    from apps.storage.intake import RowError, iter_manifest

    count = 0
    with path.open("rb") as stream:
        for row in iter_manifest(stream, filename=path.name):
            if isinstance(row, RowError):
                raise SystemExit(f"row error: {row}")
            stage_manifest_row(row)
            count += 1
    return count


def run_raw_copy(app_url: str, path: Path) -> int:
    """(b): the baseline. The file's bytes through COPY ... (FORMAT csv) into a plain table."""
    with psycopg.connect(app_url) as conn:
        conn.execute("CREATE TABLE bench_raw_copy (url text, name text, folder text, camera text, frame integer,"
                     " weather text)")
        conn.commit()
        with conn.cursor() as cur, path.open("rb") as f:
            with cur.copy("COPY bench_raw_copy FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            count = cur.rowcount
        conn.commit()
    return count


def run_item_copy(app_url: str, path: Path, table: str, ids: tuple[int, int, int, int], *,
                  indexes: bool, foreign_keys: bool = False) -> int:
    """(c0), (c), (d): item rows into a copy of datasets_item (never RLS: LIKE copies no policies)."""
    like = "INCLUDING ALL" if indexes else "INCLUDING ALL EXCLUDING INDEXES"
    with psycopg.connect(app_url) as conn:
        conn.execute(f"CREATE TABLE {table} (LIKE datasets_item {like})")
        if foreign_keys:
            # The same constraints as datasets_item's (Django makes them DEFERRABLE INITIALLY DEFERRED).
            rows = conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'datasets_item'::regclass AND contype = 'f'"
            ).fetchall()
            for (definition,) in rows:
                conn.execute(f"ALTER TABLE {table} ADD {definition}")
        conn.commit()
        count = 0
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({ITEM_COLUMNS}) FROM STDIN") as copy:
            for row in item_rows(path, *ids):
                copy.write_row(row)
                count += 1
        conn.commit()
    return count


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pg_settings(app_url: str) -> str:
    names = ("shared_buffers", "work_mem", "maintenance_work_mem", "max_wal_size", "synchronous_commit",
             "gin_pending_list_limit")
    with psycopg.connect(app_url) as conn:
        return ", ".join(f"{n}={conn.execute(sql.SQL('SHOW {}').format(sql.Identifier(n))).fetchone()[0]}"
                         for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="dlsaas_bench_ingest", help="scratch database (dropped and recreated)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--app-role", default="dlsaas")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database in place")
    parser.add_argument("--skip-extra", action="store_true", help="only (a) and (b)")
    args = parser.parse_args()

    app_url = f"postgresql://{args.app_role}@127.0.0.1:5432/{args.db}"
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    create_database(args.admin_url, args.db, args.app_role)
    try:
        with tempfile.TemporaryDirectory(prefix="dlsaas-bench-") as tmp:
            measure(args, app_url, Path(tmp) / "manifest.csv")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(args.admin_url, args.db)


def measure(args, app_url: str, manifest: Path) -> None:
    started = time.perf_counter()
    setup_django(app_url)
    print(f"scratch database {args.db} migrated in {time.perf_counter() - started:.1f}s; {pg_settings(app_url)}")
    from django.contrib.auth import get_user_model

    from apps.datasets.models import Dataset, ImportJob
    from apps.tenancy.context import system_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role

    with system_context():
        org = Organization.objects.create(name="Bench ingest", slug="bench-ingest", region="eu")
        user = get_user_model().objects.create_user(email="bench-ingest@example.test", password=None)
        Membership.objects.create(organization=org, user=user, role=Role.OWNER)
        dataset = Dataset.objects.create(organization=org, name="manifest", created_by=user)
        # The rows of (c0), (c) and (d) point at this job, as (a)'s point at its own.
        job = ImportJob.objects.create(organization=org, dataset=dataset, source=ImportJob.Source.MANIFEST,
                                       created_by=user)
        warm_dataset = Dataset.objects.create(organization=org, name="warm-up", created_by=user)
    ids = (org.pk, dataset.pk, user.pk, job.pk)

    # One small import first, so (a) does not pay for first-use costs (imports, the MIME table, the channel
    # layer's connection) that a long-running worker has already paid.
    warm = manifest.with_name("warm-up.csv")
    write_manifest(warm, 1000)
    _, secs = timed(lambda: run_pipeline(warm, org, warm_dataset, user))
    print(f"warm-up import of 1,000 rows: {secs:.2f}s")

    _, secs = timed(lambda: write_manifest(manifest, args.rows))
    print(f"manifest: {args.rows:,} rows, {manifest.stat().st_size / 1e6:.0f} MB, written in {secs:.1f}s")
    print(f"peak RSS after setup: {peak_rss_mb():.0f} MB")

    steps = [("(a) pipeline: iter_manifest+stage+ingest_rows", lambda: run_pipeline(manifest, org, dataset, user))]
    if not args.skip_extra:
        steps.append(("(p) parse+stage only, no database", lambda: run_parse_only(manifest)))
    steps.append(("(b) raw COPY csv, no index/RLS [baseline]", lambda: run_raw_copy(app_url, manifest)))
    if not args.skip_extra:
        steps += [
            ("(c0) COPY item rows, no index/RLS",
             lambda: run_item_copy(app_url, manifest, "bench_item_plain", ids, indexes=False)),
            ("(c) COPY item rows, item indexes, no RLS",
             lambda: run_item_copy(app_url, manifest, "bench_item_indexed", ids, indexes=True)),
            ("(d) COPY item rows, indexes + FKs, no RLS",
             lambda: run_item_copy(app_url, manifest, "bench_item_fk", ids, indexes=True,
                                   foreign_keys=True)),
        ]
    results = []
    for label, fn in steps:
        print(f"running {label} ... (load {loadavg()})", flush=True)
        count, secs = timed(fn)
        if count != args.rows:
            raise SystemExit(f"{label}: {count} rows, expected {args.rows}")
        results.append((label, secs, peak_rss_mb()))

    baseline = next(secs for label, secs, _ in results if label.startswith("(b)"))
    print(f"\nmanifest ingest, {args.rows:,} rows, load average at end {loadavg()}")
    print(f"  {'step':<48} {'seconds':>8} {'rows/s':>9} {'x raw COPY':>10} {'peak RSS':>9}")
    for label, secs, rss in results:
        print(f"  {label:<48} {secs:8.1f} {args.rows / secs:9,.0f} {secs / baseline:9.1f}x {rss:6.0f} MB")
    pipeline = results[0][1]
    verdict = "meets" if args.rows / pipeline >= 20_000 else "misses"
    print(f"  pipeline: {args.rows / pipeline:,.0f} items/s, {verdict} the 20,000 items/s target; "
          f"{pipeline / baseline:.1f}x the time of a raw COPY")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
