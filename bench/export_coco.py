"""COCO export of a million annotations over 100,000 images, against a plain SQL dump of the same rows in the same run.

    ./scripts/ensure-services.sh
    .venv/bin/python bench/export_coco.py [--images 100000] [--per-image 10] [--format coco] [--keep] [--reuse]

Creates a scratch database (`dlsaas_bench_export`, owned by the application role), migrates it and loads, with
COPY as the application role under row-level security, N images (640x480 to 4000x3000) and per image: 6 boxes,
2 polygons (8 vertices), 1 rotated box or ellipse and 1 three-point keypoint skeleton, with attributes; the
recipe is published through the service. Then, in this order:

  (b) SQL dump   COPY (SELECT * FROM annotations_annotation WHERE dataset = ... ORDER BY item_id, id) TO STDOUT
                 into a temporary file, as the application role with app.current_org set (the baseline)
  (a) export     apps.annotations.exports.export_run on an ExportJob of the dataset, in the organisation's tenant
                 context, exactly as the worker runs it: keyset batches of items and their annotations, the COCO
                 writer, the zip (deflate level 1) in a temporary file, then blob_put (AES-256-GCM) to the region's
                 storage

Peak memory is this process's RSS high-water mark during (a) alone (VmHWM, reset through /proc/self/clear_refs
before the export), beside the RSS before it (Django, the loaded modules). PostgreSQL's memory is not included.
Targets: (a) <= 60 s, peak RSS < 500 MB. The database is dropped at the end unless --keep; --reuse keeps an
existing scratch database and its rows (implies --keep).
"""

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.scratch import add_scratch_arguments, run_on_scratch

TARGET_SECONDS = 60
TARGET_PEAK_MB = 500
SPEC = {
    "labels": [
        {"name": "car", "tools": ["bbox", "polygon", "rotated_bbox", "ellipse"],
         "attributes": [{"name": "colour", "type": "enum", "options": ["red", "blue", "other"]},
                        {"name": "occluded", "type": "boolean", "default": False}]},
        {"name": "truck", "tools": ["bbox", "polygon"]},
        {"name": "person", "tools": ["keypoints", "bbox"],
         "skeleton": {"points": ["head", "left_hand", "right_hand"], "edges": [[0, 1], [0, 2]]}},
    ],
}
SIZES = ((640, 480), (1920, 1080), (4000, 3000))


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def annotation_rows(item_ids, sizes, per_image: int, ids: dict):
    """Tab-separated COPY rows (text format: our JSON holds no tabs, newlines or backslashes)."""
    rng = random.Random(7)
    dumps = json.dumps
    org, ds, version, user = ids["org"], ids["dataset"], ids["version"], ids["user"]
    now = "2026-01-01 00:00:00+00"
    for item_id, (width, height) in zip(item_ids, sizes, strict=True):
        for n in range(per_image):
            w, h = rng.uniform(10, width / 4), rng.uniform(10, height / 4)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            attributes = "{}"
            label = "car"
            if n < 6:
                kind, label = "bbox", ("car", "truck")[n % 2]
                geometry = {"x": round(x, 2), "y": round(y, 2), "w": round(w, 2), "h": round(h, 2)}
            elif n < 8:
                kind = "polygon"
                cx, cy, r = x + w / 2, y + h / 2, min(w, h) / 2
                ring = [[round(cx + r * c, 2), round(cy + r * s, 2)] for c, s in
                        ((1, 0), (0.7, 0.7), (0, 1), (-0.7, 0.7), (-1, 0), (-0.7, -0.7), (0, -1), (0.7, -0.7))]
                geometry = {"exterior": ring, "holes": []}
            elif n < 9:
                kind = "rotated_bbox" if item_id % 2 else "ellipse"
                r = min(w, h) / 2
                geometry = ({"cx": round(x + w / 2, 2), "cy": round(y + h / 2, 2), "w": round(r, 2), "h": round(r, 2),
                             "angle": 30.0} if kind == "rotated_bbox" else
                            {"cx": round(x + w / 2, 2), "cy": round(y + h / 2, 2), "rx": round(r, 2),
                             "ry": round(r / 2, 2), "angle": 15.0})
            else:
                kind, label = "keypoints", "person"
                geometry = {"points": [[round(x, 2), round(y, 2), 2], [round(x + w, 2), round(y, 2), 2],
                                       [round(x, 2), round(y + h, 2), 1]]}
            if label == "car":
                attributes = '{"colour": "red", "occluded": false}'
            yield (f"{org}\t{item_id}\t{ds}\t{version}\t{kind}\t{label}\t{attributes}\t{dumps(geometry)}\t0\t0\thuman"
                   f"\t\t\\N\t1\t{user}\t{now}\t{user}\t{now}\n")


ITEM_COLUMNS = ("organization_id, dataset_id, kind, name, folder, status, mime, size, width, height, metadata,"
                " created_by_id")
ANNOTATION_COLUMNS = ("organization_id, item_id, dataset_id, recipe_version_id, type, label, attributes, geometry, "
                      "z_order, frame, source, review_state, confidence, version, created_by_id, created_at, "
                      "updated_by_id, updated_at")


def seed(app_url: str, images: int, per_image: int):
    from django.contrib.auth import get_user_model

    from apps.datasets.models import Dataset
    from apps.recipes.models import DatasetRecipe
    from apps.recipes.services import recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role

    with system_context():
        org = Organization.objects.create(name="Bench export", slug="bench-export", region="eu")
        user = get_user_model().objects.create_user(email="bench-export@example.test", password=None)
        Membership.objects.create(organization=org, user=user, role=Role.OWNER)
        dataset = Dataset.objects.create(organization=org, name="million", created_by=user)
    with tenant_context(org, user):
        recipe = recipe_create(org=org, actor=user, name="Street", spec=SPEC)
        version = recipe_publish(org=org, actor=user, recipe=recipe, message="bench")
        DatasetRecipe.objects.create(organization=org, dataset=dataset, recipe=recipe)
    ids = {"org": org.pk, "dataset": dataset.pk, "version": version.pk, "user": user.pk}
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('app.current_org', %s, false)", [str(org.pk)])
        started = time.perf_counter()
        # COPY FROM is refused on a table under row-level security: COPY into a temporary staging table, then one
        # INSERT ... SELECT (RLS WITH CHECK applies to it), as apps/datasets/ingest.py does.
        conn.execute(f"CREATE TEMP TABLE stage_item ON COMMIT DROP AS SELECT {ITEM_COLUMNS} FROM datasets_item"
                     " WITH NO DATA")
        conn.execute(f"CREATE TEMP TABLE stage_annotation ON COMMIT DROP AS SELECT {ANNOTATION_COLUMNS}"
                     " FROM annotations_annotation WITH NO DATA")
        with conn.cursor() as cur, cur.copy(
                f"COPY stage_item ({ITEM_COLUMNS}) FROM STDIN") as copy:
            for i in range(images):
                width, height = SIZES[i % 3]
                copy.write(f"{org.pk}\t{dataset.pk}\timage\tframe_{i:07d}.jpg\t/\tready\timage/jpeg\t100000\t{width}"
                           f"\t{height}\t{{\"camera\": \"cam{i % 10}\"}}\t{user.pk}\n")
        conn.execute(f"INSERT INTO datasets_item ({ITEM_COLUMNS}) SELECT {ITEM_COLUMNS} FROM stage_item")
        rows = conn.execute("SELECT id, width, height FROM datasets_item WHERE dataset_id = %s ORDER BY id",
                            [dataset.pk]).fetchall()
        print(f"  {images:,} items by COPY in {time.perf_counter() - started:.1f}s", flush=True)
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY stage_annotation ({ANNOTATION_COLUMNS}) FROM STDIN") as copy:
            buffer = []
            for line in annotation_rows([r[0] for r in rows], [(r[1], r[2]) for r in rows], per_image, ids):
                buffer.append(line)
                if len(buffer) >= 10_000:
                    copy.write("".join(buffer))
                    buffer = []
            copy.write("".join(buffer))
        conn.execute(f"INSERT INTO annotations_annotation ({ANNOTATION_COLUMNS})"
                     f" SELECT {ANNOTATION_COLUMNS} FROM stage_annotation")
        conn.commit()
        print(f"  {images * per_image:,} annotations by COPY in {time.perf_counter() - started:.1f}s", flush=True)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE datasets_item")
        conn.execute("VACUUM ANALYZE annotations_annotation")


def sql_dump(app_url: str, org_id: int, dataset_id: int) -> tuple[float, int, int]:
    with psycopg.connect(app_url) as conn, tempfile.TemporaryFile() as out:
        conn.execute("SELECT set_config('app.current_org', %s, false)", [str(org_id)])
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY (SELECT * FROM annotations_annotation WHERE organization_id = %s AND dataset_id = %s"
                " ORDER BY item_id, id) TO STDOUT", [org_id, dataset_id]) as copy:
            rows = 0
            for data in copy:
                out.write(data)
                rows += 1
        seconds = time.perf_counter() - started
        return seconds, out.tell(), rows


def run_export(org, user, dataset, format: str):
    from apps.annotations import exports
    from apps.annotations.models import ExportJob
    from apps.tenancy.context import tenant_context

    with tenant_context(org, user):
        job = ExportJob.objects.create(organization=org, dataset=dataset, format=format, created_by=user)
        exports.export_run(job=job)
        job.refresh_from_db()
        if job.status != ExportJob.Status.DONE:
            raise SystemExit(f"the export failed: {job.error}")
        return job, job.result.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--per-image", type=int, default=10)
    parser.add_argument("--format", default="coco", choices=("coco", "yolo", "yolo_seg", "voc", "native"))
    add_scratch_arguments(parser, "dlsaas_bench_export")
    run_on_scratch(parser.parse_args(), measure)


def measure(args, app_url: str, reuse: bool) -> None:
    from apps.annotations.models import Annotation
    from apps.datasets.models import Dataset
    from apps.tenancy.context import system_context
    from apps.tenancy.models import Organization

    expected = args.images * args.per_image
    if not reuse:
        print(f"seeding {args.images:,} images x {args.per_image} annotations ...", flush=True)
        seed(app_url, args.images, args.per_image)
    with system_context():
        org = Organization.objects.get(slug="bench-export")
        dataset = Dataset.objects.get(organization=org, name="million")
        user = dataset.created_by
        stored = Annotation.objects.filter(dataset=dataset).count()
    if stored != expected:
        raise SystemExit(f"the scratch database holds {stored:,} annotations, not {expected:,}: run without --reuse")

    dump_seconds, dump_bytes, dump_rows = sql_dump(app_url, org.pk, dataset.pk)
    print(f"(b) SQL dump (COPY TO): {dump_rows:,} rows, {dump_bytes / 1e6:.0f} MB in {dump_seconds:.1f}s", flush=True)

    before = rss_mb()
    measured_peak = reset_peak()
    started, cpu_started = time.perf_counter(), time.process_time()
    job, size = run_export(org, user, dataset, args.format)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = rss_mb("VmHWM")
    if job.annotations_done + job.annotations_skipped != expected:
        raise SystemExit(f"exported {job.annotations_done:,} + skipped {job.annotations_skipped:,}, not {expected:,}")

    print(f"\n{args.format} export of {expected:,} annotations over {args.images:,} images "
          f"(load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    print(f"  {'step':<44} {'seconds':>8} {'annotations/s':>14} {'x SQL dump':>10}")
    print(f"  {'(b) SQL dump: COPY (SELECT ...) TO STDOUT':<44} {dump_seconds:8.1f} {expected / dump_seconds:14,.0f}"
          f" {1:9.1f}x")
    label = f"(a) export job: {args.format}, zip, encrypted blob"
    print(f"  {label:<44} {seconds:8.1f} {expected / seconds:14,.0f} {seconds / dump_seconds:9.1f}x")
    print(f"  export: {job.items_done:,} images, {job.annotations_done:,} annotations written, skipped {job.skipped}; "
          f"zip {size / 1e6:.0f} MB; process CPU {cpu:.1f}s")
    peak_text = f"{peak:.0f} MB" if measured_peak else f"{peak:.0f} MB (process lifetime: clear_refs unavailable)"
    print(f"  RSS before the export {before:.0f} MB, peak during it {peak_text}")
    verdict_time = "meets" if seconds <= TARGET_SECONDS else "misses"
    verdict_memory = "meets" if peak < TARGET_PEAK_MB else "misses"
    print(f"  {verdict_time} the {TARGET_SECONDS} s target; {verdict_memory} the {TARGET_PEAK_MB} MB peak target")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
