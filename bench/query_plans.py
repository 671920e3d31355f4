"""Query-language plans and timings on a large dataset (DESIGN.md: data management at millions of items).

    createdb -h 127.0.0.1 -U dlsaas dlsaas_query_bench
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas_query_bench .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://dlsaas@127.0.0.1:5432/dlsaas_query_bench .venv/bin/python bench/query_plans.py

Seeds (once) one organisation with a 200,000-item dataset and another with 50,000 items, then prints, for each
case, EXPLAIN (ANALYZE, BUFFERS) of every statement keyset_page / fast_count ran and the median wall time of
the call. Queries run in the organisation's tenant context, with row-level security on, as requests do.
`--no-rls` also runs the metadata cases against an RLS-free copy of the table, to show what the GIN index
gives when the planner may use it (jsonb @> is not leakproof, so under RLS it cannot be an index condition).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlsaas.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.datasets.models import Dataset, Item  # noqa: E402
from apps.datasets.pagination import fast_count, keyset_page  # noqa: E402
from apps.datasets.query import compile_filter, parse_sort  # noqa: E402
from apps.tenancy.context import system_context, tenant_context  # noqa: E402
from apps.tenancy.models import Organization  # noqa: E402

SEED_SQL = """
INSERT INTO datasets_item (organization_id, dataset_id, kind, name, folder, status, size, width, height, duration,
                           metadata, created_at)
SELECT %(org)s, %(ds)s,
       (ARRAY['image','image','image','video','audio','text','pointcloud','dicom'])[1 + (g %% 8)],
       'img-' || lpad((abs(hashint4(g)) %% 1000000)::text, 7, '0') || '.jpg',
       '/batch-' || (g %% 40),
       CASE WHEN g %% 50 = 0 THEN 'failed' ELSE 'ready' END,
       CASE WHEN g %% 20 = 0 THEN NULL ELSE (abs(hashint4(g + 7)) %% 10000000)::bigint END,
       640 + (g %% 5) * 320, 480 + (g %% 4) * 240,
       CASE WHEN g %% 8 = 3 THEN (g %% 600)::float8 / 7 ELSE NULL END,
       jsonb_build_object('camera', 'cam-' || lpad((g %% 20)::text, 2, '0'),
                          'iso', 100 * (1 + g %% 32),
                          'tags', jsonb_build_array('t' || (g %% 7), 'u' || (g %% 11)),
                          'weather', (ARRAY['sun','rain','fog'])[1 + g %% 3],
                          'site', jsonb_build_object('id', g %% 500,
                                                     'country', (ARRAY['fr','de','us','jp'])[1 + g %% 4]))
         || CASE WHEN g %% 10 = 0 THEN jsonb_build_object('iso', 'auto') ELSE '{}'::jsonb END,
       timestamptz '2025-01-01' + (g * interval '137 seconds') + ((abs(hashint4(g + 3)) %% 60) * interval '1 second')
FROM generate_series(1, %(rows)s) AS g
"""


def seed(rows: int):
    with system_context():
        org = Organization.objects.filter(slug="bench-a").first()
        if org is not None:
            return org, Dataset.objects.get(organization=org, name="bench")
        org = Organization.objects.create(name="Bench A", slug="bench-a", region="eu")
        other = Organization.objects.create(name="Bench B", slug="bench-b", region="eu")
        dataset = Dataset.objects.create(organization=org, name="bench")
        other_ds = Dataset.objects.create(organization=other, name="bench")
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(SEED_SQL, {"org": org.pk, "ds": dataset.pk, "rows": rows})
            cursor.execute(SEED_SQL, {"org": other.pk, "ds": other_ds.pk, "rows": rows // 4})
            cursor.execute("ANALYZE datasets_item")
            print(f"seeded {rows} + {rows // 4} items in {time.perf_counter() - started:.1f}s")
        return org, dataset


def explain(sql: str, table: str | None = None) -> str:
    if table:
        sql = sql.replace('"datasets_item"', f'"{table}"')
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def timed(call, repeat=7):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return result, statistics.median(times)


def report(title, call, *, table=None):
    with CaptureQueriesContext(connection) as captured:
        call()
    result, ms = timed(call)
    print(f"\n=== {title}: median {ms:.1f} ms per call, {len(captured.captured_queries)} statement(s)")
    if isinstance(result, tuple):
        print("  result:", result)
    for query in captured.captured_queries:
        if query["sql"].lstrip().upper().startswith("EXPLAIN"):
            continue
        print(explain(query["sql"], table))
    return result


def walk_to(qs, sort, rows, page_size=500):
    cursor, seen = None, 0
    started = time.perf_counter()
    while seen < rows:
        page = keyset_page(qs, sort=sort, cursor=cursor, page_size=min(page_size, rows - seen))
        seen += len(page.items)
        cursor = page.next_cursor
    print(f"\n(walked {seen} rows in pages of {page_size}: {time.perf_counter() - started:.2f}s)")
    return cursor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--no-rls", action="store_true", help="also run the metadata cases without RLS")
    args = parser.parse_args()
    org, dataset = seed(args.rows)
    with tenant_context(org):
        base = Item.objects.for_org(org).filter(dataset=dataset)
        print("items in the dataset:", base.count())

        def page(filter=None, sort=None, cursor=None, size=50):
            qs = base.filter(compile_filter(filter))
            return keyset_page(qs, sort=parse_sort(sort), cursor=cursor, page_size=size)

        camera = {"metadata.camera": "cam-07"}
        rare = {"metadata.site.id": 123}
        report("metadata equality (camera, 5%), first page, default sort", lambda: page(camera))
        report("metadata equality (site.id, 0.2%), first page, default sort", lambda: page(rare))
        report("metadata range (iso >= 3000, numbers only), first page", lambda: page({"metadata.iso": {"$gte": 3000}}))
        size_range = {"size": {"$gte": 1_000_000, "$lt": 1_100_000}}
        report("size range (1%), first page, sort size", lambda: page(size_range, ["size"]))
        report("size range (1%), first page, default sort", lambda: page(size_range))
        report("default sort (created_at desc), first page", lambda: page())
        report("name sort, first page", lambda: page(sort=["name"]))

        cases = (
            (["name"], 150_000, 500, "deep page"),
            (None, 150_000, 500, "deep page"),
            (["-size"], 150_000, 500, "deep page"),
            (["-size"], 189_980, 500, "page crossing from sizes into null sizes"),
            (["-size"], 195_000, 500, "deep page among null sizes"),
            (["kind"], 150_000, 500, "deep page"),
            (["kind", "-size"], 150_000, 500, "deep page (mixed directions)"),
            (["metadata.iso"], 150_000, 500, "deep page"),
        )
        for sort, rows, step, what in cases:
            deep = walk_to(base, parse_sort(sort), rows, step)
            report(f"sort {sort or 'default'}: {what} via cursor", lambda s=sort, c=deep: page(sort=s, cursor=c))

        for title, flt in (("whole dataset", None), ("camera, 5%", camera), ("site.id, 0.2%", rare),
                           ("kind=image, 37.5%", {"kind": "image"})):
            qs = base.filter(compile_filter(flt))
            print("\n(exact count:", qs.count(), ")")
            report(f"fast_count, {title}", lambda qs=qs: fast_count(qs))

        if args.no_rls:
            with system_context(), connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass('bench_item_norls')")
                if cursor.fetchone()[0] is None:
                    cursor.execute("CREATE TABLE bench_item_norls (LIKE datasets_item INCLUDING ALL)")
                    cursor.execute("INSERT INTO bench_item_norls SELECT * FROM datasets_item")
                    cursor.execute("ANALYZE bench_item_norls")
            for title, flt in (("camera", camera), ("site.id", rare)):
                qs = base.filter(compile_filter(flt))
                sql, params = qs.order_by("-created_at", "-id")[:51].query.sql_with_params()
                with connection.cursor() as cursor:
                    sql = cursor.mogrify(sql, params)
                print(f"\n=== WITHOUT RLS: metadata equality ({title}), first page, default sort")
                print(explain(sql, "bench_item_norls"))


if __name__ == "__main__":
    main()
