"""Item query latency through the real API at a million items, against the same SQL run directly (DESIGN.md:
lists over millions of rows use keyset pagination).

    ./scripts/ensure-services.sh
    .venv/bin/python bench/query_items.py [--rows 1000000] [--other-rows 200000] [-n 50] [--deep-rows 500000]
                                          [--explain] [--keep] [--reuse] [--case TEXT]

Creates a scratch database (`dlsaas_bench_query`, owned by the application role, so it inherits the LEAKPROOF
JSONB operators from template1), migrates it, and seeds with one server-side INSERT ... SELECT generate_series
an N-item dataset of organisation A and, interleaved in the same table, organisation B's dataset of M items
(camera in 10 values, frame an integer, weather in 4 values, 5% null sizes, hashed names, 100 folders,
created_at in batches of 5,000 sharing one timestamp as imports produce), then VACUUM ANALYZE.

Each case is POST /api/v1/datasets/<id>/items/query/ through Django's test Client with a bearer token of A's
owner (authentication, tenant context, row-level security, scope checks, serialisation: everything but the
socket), `-n` requests after 5 warm-ups, median and p95 (nearest rank), with `count: true` (the API default)
and `count: false`. Beside it:
- selector: apps.datasets.selectors.item_query alone (the ORM, keyset_page and fast_count, no HTTP/DRF);
- SQL: the statements that call executed (captured from Django, parameters bound), run the same number of
  times on a separate psycopg connection as the application role with app.current_org set by set_config,
  i.e. under the same row-level security. The ratio is API median / SQL median.
Deep pages: the cursor is found once by following next_cursor through the API (pages of 500, count false)
down to --deep-rows rows (page 5,001 of 100 at the default), then that page is fetched repeatedly.
Targets: first page p95 <= 50 ms, deep page p95 <= 100 ms. A case that misses its target (or every case, with
--explain) gets EXPLAIN (ANALYZE, BUFFERS) of its statements. The database is dropped at the end unless
--keep; --reuse keeps an existing scratch database and its seed (implies --keep). --case TEXT (repeatable) runs
only the cases whose name contains TEXT ("B: first page, size"), and the deep-page walks only for a deep case.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench import scratch
from bench.scratch import create_database, database_exists, drop_database

FIRST_PAGE_P95_MS = 50
DEEP_PAGE_P95_MS = 100
WARM_UP = 5
SIZE_RANGE = (1_000_000, 1_250_000)  # sizes are uniform in [1,000, 5,001,000): 5% of the sized rows

# Row g (1..total) belongs to B when the running share of B's rows steps up: B's rows spread evenly through
# the table, as two tenants importing at the same time would leave them.
SEED_SQL = """
INSERT INTO datasets_item (organization_id, dataset_id, kind, name, folder, status, size, mime, sha256, width,
                           height, metadata, source_url, error, created_at)
SELECT CASE WHEN b THEN %(org_b)s ELSE %(org_a)s END,
       CASE WHEN b THEN %(ds_b)s ELSE %(ds_a)s END,
       CASE WHEN g %% 50 = 0 THEN 'video' ELSE 'image' END,
       'frame_' || lpad((abs(hashint4(g + 4)) %% 100000000)::text, 8, '0') || '.jpg',
       '/train/batch-' || lpad((g %% 100)::text, 2, '0'),
       'ready',
       CASE WHEN abs(hashint4(g + 2)) %% 20 = 0 THEN NULL ELSE 1000 + abs(hashint4(g + 3)) %% 5000000 END,
       'image/jpeg', md5(g::text) || md5((g + 1)::text), 1920, 1080,
       jsonb_build_object('camera', 'cam' || (abs(hashint4(g)) %% 10),
                          'frame', g %% 10000,
                          'weather', (ARRAY['clear', 'rain', 'fog', 'snow'])[1 + abs(hashint4(g + 1)) %% 4]),
       'https://cdn.example.com/drive-' || (g %% 1000) || '/' || g || '.jpg',
       '',
       timestamptz '2025-01-01 00:00:00+00' + (g / 5000) * interval '1 minute'
FROM (SELECT g, (g::bigint * %(nb)s / %(total)s) > ((g - 1)::bigint * %(nb)s / %(total)s) AS b
      FROM generate_series(1, %(total)s) AS g) AS series
"""


# --- Scratch database ------------------------------------------------------------------------------


def setup_django(app_url: str) -> None:
    # The walk to a deep page makes ~1,000 requests a minute per sort; the throttle is still consulted.
    scratch.setup_django(app_url, API_THROTTLE_USER="1000000/minute")


# --- Data -----------------------------------------------------------------------------------------


class Tenant(NamedTuple):
    label: str
    org: Any
    user: Any
    dataset: Any


def seed(rows: int, other_rows: int) -> tuple[Tenant, Tenant]:
    """Organisation A's dataset of `rows` items and B's of `other_rows`, interleaved in one table; each has an
    owner to make requests as."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.datasets.models import Dataset
    from apps.tenancy.context import system_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role

    users = get_user_model().objects
    with system_context():
        if Organization.objects.filter(slug="bench-query-a").exists():
            print("(reusing the seeded scratch database)")
            return tuple(
                Tenant(label, org, users.get(email=f"owner@{org.slug}.example.test"),
                       Dataset.objects.get(organization=org, name="bench"))
                for label, org in (("A", Organization.objects.get(slug="bench-query-a")),
                                   ("B", Organization.objects.get(slug="bench-query-b")))
            )
        tenants = []
        for label in ("A", "B"):
            org = Organization.objects.create(name=f"Bench {label}", slug=f"bench-query-{label.lower()}", region="eu")
            user = users.create_user(email=f"owner@{org.slug}.example.test", password=None)
            Membership.objects.create(organization=org, user=user, role=Role.OWNER)
            tenants.append(Tenant(label, org, user, Dataset.objects.create(organization=org, name="bench",
                                                                          created_by=user)))
        a, b = tenants
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(SEED_SQL, {"org_a": a.org.pk, "org_b": b.org.pk, "ds_a": a.dataset.pk,
                                      "ds_b": b.dataset.pk, "nb": other_rows, "total": rows + other_rows})
        inserted = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE datasets_item")
        print(f"seeded {rows:,} + {other_rows:,} items in {inserted - started:.1f}s, "
              f"VACUUM ANALYZE {time.perf_counter() - inserted:.1f}s")
    return a, b


def make_token(org, user) -> str:
    from apps.accounts.services import token_create
    from apps.tenancy.context import tenant_context

    with tenant_context(org, user):
        _token, raw = token_create(org=org, actor=user, name="bench", days=1)
    return raw


# --- Timing ---------------------------------------------------------------------------------------


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def sample(fn, n: int) -> list[float]:
    for _ in range(WARM_UP):
        fn()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


class Api:
    def __init__(self, raw_token: str, dataset_id: int):
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_token}", HTTP_HOST="localhost")
        self.url = f"/api/v1/datasets/{dataset_id}/items/query/"

    def post(self, body: dict):
        response = self.client.post(self.url, data=json.dumps(body), content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"{body} answered {response.status_code}: {response.content[:500]!r}")
        return response

    def walk(self, body: dict, rows: int, page_size: int = 500) -> tuple[str, float]:
        """The cursor after `rows` rows, by following next_cursor; and the seconds it took."""
        cursor, seen = None, 0
        started = time.perf_counter()
        while seen < rows:
            page = self.post({**body, "page_size": min(page_size, rows - seen), "count": False,
                              **({"cursor": cursor} if cursor else {})}).json()
            seen += len(page["results"])
            cursor = page["next_cursor"]
            if cursor is None:
                raise SystemExit(f"the dataset ran out after {seen} rows")
        return cursor, time.perf_counter() - started


def selector_call(tenant: Tenant, body: dict):
    from apps.datasets import selectors
    from apps.tenancy.context import tenant_context

    params = {"filter": body.get("filter") or {}, "sort": body.get("sort") or [],
              "page_size": body.get("page_size", 100), "cursor": body.get("cursor") or None,
              "count": body.get("count", True)}

    def call():
        with tenant_context(tenant.org, tenant.user):
            return selectors.item_query(dataset=tenant.dataset, **params)

    return call


def captured_sql(call) -> list[str]:
    """The statements the selector sends, with parameters bound (client-side binding, as Django sends them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return [q["sql"] for q in captured.captured_queries if "app.current_org" not in q["sql"]]


class RawSql:
    """A plain psycopg connection as the application role, in A's tenant context."""

    def __init__(self, app_url: str, org_id: int, user_id: int):
        self.conn = psycopg.connect(app_url, autocommit=True)
        self.conn.execute("SELECT set_config('app.current_org', %s, false), set_config('app.current_user', %s, false),"
                          " set_config('app.rls_bypass', 'off', false)", [str(org_id), str(user_id)])

    def runner(self, statements: list[str]):
        def run():
            with self.conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                    cur.fetchall()

        return run

    def explain(self, statement: str) -> str:
        if statement.lstrip().upper().startswith("EXPLAIN"):
            return "(fast_count's planner estimate: not executed beyond planning)"
        with self.conn.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            return "\n".join(row[0] for row in cur.fetchall())


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- Main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="items in organisation A's dataset")
    parser.add_argument("--other-rows", type=int, default=200_000, help="items of organisation B, same table")
    parser.add_argument("-n", type=int, default=50, help="timed requests per case")
    parser.add_argument("--deep-rows", type=int, default=500_000, help="how far to walk for the deep page")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE every case, not only misses")
    parser.add_argument("--db", default="dlsaas_bench_query", help="scratch database (dropped and recreated)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--app-role", default="dlsaas")
    parser.add_argument("--keep", action="store_true", help="leave the scratch database in place")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing scratch database (implies --keep)")
    parser.add_argument("--case", action="append", default=[], metavar="TEXT",
                        help="only the cases whose name contains TEXT, e.g. 'B: first page, size' (repeatable); "
                             "the deep-page walks run only for a deep case")
    args = parser.parse_args()
    if args.deep_rows >= args.rows:
        parser.error("--deep-rows must be below --rows")

    app_url = f"postgresql://{args.app_role}@127.0.0.1:5432/{args.db}"
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)")
    if not (args.reuse and database_exists(args.admin_url, args.db)):
        create_database(args.admin_url, args.db, args.app_role)
    try:
        measure(args, app_url)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            drop_database(args.admin_url, args.db)


def measure(args, app_url: str) -> None:
    setup_django(app_url)
    a, b = seed(args.rows, args.other_rows)
    apis = {t.label: Api(make_token(t.org, t.user), t.dataset.pk) for t in (a, b)}
    raws = {t.label: RawSql(app_url, t.org.pk, t.user.pk) for t in (a, b)}

    camera = {"metadata.camera": "cam3"}
    size_range = {"size": {"$gte": SIZE_RANGE[0], "$lt": SIZE_RANGE[1]}}
    filters = {"camera": camera, "size": size_range, "all": {}}
    cases = [
        (a, "first page, default sort", {}, FIRST_PAGE_P95_MS),
        (a, "first page, metadata.camera = cam3", {"filter": camera}, FIRST_PAGE_P95_MS),
        (a, "first page, size range, sort size", {"filter": size_range, "sort": ["size"]}, FIRST_PAGE_P95_MS),
        (a, "first page, sort name", {"sort": ["name"]}, FIRST_PAGE_P95_MS),
    ]
    page_no = args.deep_rows // 100 + 1

    def chosen(tenant, title) -> bool:
        return not args.case or any(text in f"{tenant.label}: {title}" for text in args.case)

    for title, body in (("default sort", {}), ("sort name", {"sort": ["name"]})):
        if not chosen(a, f"deep page {page_no:,}, {title}"):
            continue
        cursor, secs = apis["A"].walk(body, args.deep_rows)
        print(f"walked {args.deep_rows:,} rows ({title}) through the API in pages of 500: {secs:.1f}s "
              f"({args.deep_rows / secs:,.0f} rows/s)", flush=True)
        cases.append((a, f"deep page {page_no:,}, {title}", {**body, "cursor": cursor}, DEEP_PAGE_P95_MS))
    # The smaller tenant: the same table and indexes, a different share of every estimate (see the counts).
    cases += [
        (b, "first page, default sort", {}, FIRST_PAGE_P95_MS),
        (b, "first page, metadata.camera = cam3", {"filter": camera}, FIRST_PAGE_P95_MS),
        (b, "first page, size range, sort size", {"filter": size_range, "sort": ["size"]}, FIRST_PAGE_P95_MS),
    ]

    cases = [case for case in cases if chosen(case[0], case[1])]
    if not cases:
        raise SystemExit(f"no case matches {args.case}")
    results, explains = [], []
    for tenant, title, body, target in cases:
        api, raw = apis[tenant.label], raws[tenant.label]
        for count in (True, False):
            request = {**body, "page_size": 100, "count": count}
            response = api.post(request).json()
            selector = selector_call(tenant, request)
            statements = captured_sql(selector)
            api_ms = sample(lambda r=request, api=api: api.post(r), args.n)
            selector_ms = sample(selector, args.n)
            sql_ms = sample(raw.runner(statements), args.n)
            name = f"{tenant.label}: {title}"
            flt = next(key for key, value in filters.items() if value == body.get("filter", {}))
            results.append({
                "case": name, "count": count, "target": target, "api": api_ms, "selector": selector_ms,
                "sql": sql_ms, "statements": len(statements), "tenant": tenant.label, "filter": flt,
                "returned": (response["count"], response["count_exact"]) if count else None,
            })
            print(f"  {name} count={str(count).lower()}: API median {statistics.median(api_ms):.1f} ms, "
                  f"p95 {p95(api_ms):.1f} ms (load {loadavg()})", flush=True)
            if args.explain or p95(api_ms) > target:
                explains.append((f"{name}, count={str(count).lower()}", [(s, raw.explain(s)) for s in statements]))

    from apps.datasets.selectors import item_filter
    from apps.tenancy.context import tenant_context

    exact = {}
    for t in (a, b):
        with tenant_context(t.org, t.user):
            for key, flt in filters.items():
                exact[t.label, key] = item_filter(dataset=t.dataset, filter=flt).count()

    print(f"\nitem query API: dataset A {args.rows:,} items, dataset B {args.other_rows:,} items of another "
          f"organisation in the same table; page_size 100, {args.n} requests after {WARM_UP} warm-ups; ms")
    print(f"load average at end: {loadavg()}")
    print(f"  {'case':<39} {'count':<5} {'API med':>8} {'API p95':>8} {'sel med':>8} {'SQL med':>8} "
          f"{'SQL p95':>8} {'stmts':>5} {'API/SQL':>7} {'target':>7}")
    for r in results:
        api_med, sql_med = statistics.median(r["api"]), statistics.median(r["sql"])
        ok = "ok" if p95(r["api"]) <= r["target"] else "MISS"
        print(f"  {r['case']:<39} {str(r['count']).lower():<5} {api_med:8.1f} {p95(r['api']):8.1f} "
              f"{statistics.median(r['selector']):8.1f} {sql_med:8.1f} {p95(r['sql']):8.1f} {r['statements']:5d} "
              f"{api_med / sql_med:6.1f}x {r['target']:>4} {ok}")
    print("\ncounts returned with count=true (fast_count) against the exact count:")
    shown = set()
    for r in results:
        key = (r["tenant"], r["filter"])
        if r["returned"] is None or key in shown:
            continue
        shown.add(key)
        value, exact_flag = r["returned"]
        print(f"  {r['tenant']}: filter {r['filter']:<7} returned {value:>9,} (count_exact={str(exact_flag).lower()}), "
              f"exact {exact[key]:>9,} ({value / exact[key]:.2f}x)")
    for title, plans in explains:
        print(f"\n=== EXPLAIN (ANALYZE, BUFFERS): {title}")
        for statement, plan in plans:
            print(f"--- {statement[:400]}{'...' if len(statement) > 400 else ''}")
            print(plan)


if __name__ == "__main__":
    main()
