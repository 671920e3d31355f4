"""Pull distribution under load: next-unit throughput and latency with many concurrent annotators.

    .venv/bin/python bench/next_unit.py [--items 100000] [--annotators 32] [--processes 4] [--seconds 20]
                                        [--sequential 100] [--db NAME] [--keep]

Seeds a scratch database (see bench/scratch.py) with one organisation, a dataset of N items, a published recipe,
`--annotators` members with API tokens and a pull task over every item (its units are created set-based, timed).
Then, for `--seconds`:

(a) through the API: the annotators, spread over `--processes` processes (threads inside each; Python's GIL
    would otherwise hold the whole run to one core), loop `POST /api/v1/tasks/{id}/next/` then
    `POST /api/v1/work-items/{id}/submit/` through Django's full stack (token authentication, tenant context and
    row-level security, scope and membership checks, the SKIP LOCKED pull, the work log), in process: no HTTP
    socket, so the figure is the application's, not a web server's. Reports leases/s and next-unit latency.
(b) the baseline: the same number of threads, each with its own connection, running the bare loop
    `SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1; UPDATE ...; COMMIT` on an unindexed-but-for-the-queue copy.

Then counts units handed out to two different people (must be 0) from the work log. Prints the ratio (a)/(b).

Before (a), (s) runs the same loop with one annotator, one request at a time: the milliseconds and the queries of one
`next` and one `submit` without contention (what each request costs). During (a) the database's wait events are
sampled twice a second, so a queue on one lock shows up by name (`Lock:advisory`, `Lock:transactionid`, ...).
"""

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench import scratch

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
APP_ROLE = "dlsaas"


def seed(items: int, annotators: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.accounts.services import token_create
    from apps.datasets.models import Dataset
    from apps.recipes.services import recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role
    from apps.workforce.services import task_create

    users = get_user_model().objects
    with system_context():
        org = Organization.objects.create(name="Bench pull", slug="bench-pull", region="eu")
        owner = users.create_user(email="owner@bench-pull.example.test", password=None)
        Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
        people = []
        for i in range(annotators):
            user = users.create_user(email=f"a{i}@bench-pull.example.test", password=None)
            Membership.objects.create(organization=org, user=user, role=Role.ANNOTATOR)
            people.append(user)
        dataset = Dataset.objects.create(organization=org, name="bench", created_by=owner)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO datasets_item (organization_id, dataset_id, kind, name, folder, status, mime, sha256,
                                              width, height, metadata, source_url, error, created_at)
                   SELECT %s, %s, 'image', 'img-' || g || '.jpg', '/', 'ready', 'image/jpeg', '', 640, 480, '{}',
                          '', '', now()
                   FROM generate_series(1, %s) AS g""", [org.pk, dataset.pk, items])
        print(f"seeded {items:,} items in {time.perf_counter() - started:.1f}s")
    with tenant_context(org, owner):
        recipe = recipe_create(org=org, actor=owner, name="bench",
                               spec={"labels": [{"name": "car", "tools": ["bbox"]}]})
        version = recipe_publish(org=org, actor=owner, recipe=recipe)
        started = time.perf_counter()
        task = task_create(org=org, actor=owner, dataset=dataset, recipe_version=version, name="bench",
                           members=[{"user_id": u.pk, "role": "annotator"} for u in people])
        print(f"task_create: {items:,} units in {time.perf_counter() - started:.1f}s")
    tokens = []
    for user in people:
        with tenant_context(org, user):
            tokens.append(token_create(org=org, actor=user, name="bench", days=1)[1])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE workforce_workitem")
    return {"task_id": task.pk, "tokens": tokens}


def _annotator(token: str, task_id: int, deadline: float, out: list, errors: list) -> None:
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{task_id}/next/", data="{}", content_type="application/json")
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 204:
                return
            if response.status_code != 200:
                errors.append(f"next {response.status_code}: {response.content[:200]!r}")
                return
            out.append(elapsed)
            unit_id = response.json()["id"]
            submitted = client.post(f"/api/v1/work-items/{unit_id}/submit/")
            if submitted.status_code != 200:
                errors.append(f"submit {submitted.status_code}: {submitted.content[:200]!r}")
                return
    finally:
        connection.close()


def run_sequential(state: dict, pairs: int, show_queries: bool = False) -> dict:
    """One annotator, one request at a time: wall milliseconds per next and per submit, and their queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {state['tokens'][0]}", HTTP_HOST="localhost")
    task_id = state["task_id"]

    def pair() -> tuple[float, float]:
        started = time.perf_counter()
        unit = client.post(f"/api/v1/tasks/{task_id}/next/", data="{}", content_type="application/json")
        leased = time.perf_counter()
        assert unit.status_code == 200, unit.content[:200]
        submitted = client.post(f"/api/v1/work-items/{unit.json()['id']}/submit/")
        assert submitted.status_code == 200, submitted.content[:200]
        return (leased - started) * 1000, (time.perf_counter() - leased) * 1000

    for _ in range(20):  # warm-up: imports, caches, the token's last_used_at
        pair()
    timings = [pair() for _ in range(pairs)]
    with CaptureQueriesContext(connection) as queries:
        unit = client.post(f"/api/v1/tasks/{task_id}/next/", data="{}", content_type="application/json")
        next_queries = len(queries)
        client.post(f"/api/v1/work-items/{unit.json()['id']}/submit/")
    if show_queries:
        for i, query in enumerate(queries.captured_queries):
            print(f"  {'next' if i < next_queries else 'submit'} {i:2d}: {' '.join(query['sql'].split())[:260]}")
    return {"next_ms": statistics.median(t[0] for t in timings), "submit_ms": statistics.median(t[1] for t in timings),
            "next_queries": next_queries, "submit_queries": len(queries) - next_queries}


class WaitSampler(threading.Thread):
    """Counts what the bench database's busy connections wait on, twice a second, until stopped."""

    def __init__(self, db: str):
        super().__init__(daemon=True)
        self.db, self.samples, self.counts = db, 0, {}
        self.stopped = threading.Event()

    def run(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            while not self.stopped.wait(0.5):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU (running)'), count(*)"
                    " FROM pg_stat_activity WHERE datname = %s AND state = 'active' GROUP BY 1", [self.db]).fetchall()
                self.samples += 1
                for event, n in rows:
                    self.counts[event] = self.counts.get(event, 0) + n

    def summary(self) -> str:
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:4]
        return ", ".join(f"{event} {n / max(self.samples, 1):.1f}" for event, n in top) or "none"


def _process(tokens: list[str], task_id: int, seconds: float, start_at: float, queue) -> None:
    from django.db import connections

    connections.close_all()
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=_annotator, args=(t, task_id, deadline, latencies, errors)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors))


def run_api(state: dict, processes: int, seconds: float) -> tuple[list[float], list[str], float]:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 1.0
    shares = [state["tokens"][i::processes] for i in range(processes)]
    workers = [context.Process(target=_process, args=(share, state["task_id"], seconds, start_at, queue))
               for share in shares if share]
    for worker in workers:
        worker.start()
    latencies, errors = [], []
    for _ in workers:
        got_latencies, got_errors = queue.get()
        latencies += got_latencies
        errors += got_errors
    for worker in workers:
        worker.join()
    return latencies, errors, seconds


def run_raw(app_url: str, rows: int, threads: int, seconds: float) -> tuple[int, list[float]]:
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_queue")
        conn.execute("CREATE TABLE bench_queue (id bigserial PRIMARY KEY, priority int NOT NULL DEFAULT 0, "
                     "state text NOT NULL DEFAULT 'queued', holder int)")
        conn.execute("INSERT INTO bench_queue (priority) SELECT 0 FROM generate_series(1, %s)", [rows])
        conn.execute("CREATE INDEX bench_queue_queued ON bench_queue (priority DESC, id) WHERE state = 'queued'")
        conn.execute("VACUUM ANALYZE bench_queue")
    latencies: list[float] = []
    leased = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop(holder: int) -> None:
        mine = []
        with psycopg.connect(app_url) as conn:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                with conn.transaction():
                    row = conn.execute("SELECT id FROM bench_queue WHERE state = 'queued' ORDER BY priority DESC, "
                                       "id LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
                    if row is None:
                        break
                    conn.execute("UPDATE bench_queue SET state = 'leased', holder = %s WHERE id = %s",
                                 [holder, row[0]])
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            leased[0] += len(mine)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with psycopg.connect(app_url, autocommit=True) as conn:
        doubles = conn.execute("SELECT count(*) FROM (SELECT id FROM bench_queue GROUP BY id HAVING count(*) > 1) d"
                               ).fetchone()[0]
        assert doubles == 0
        conn.execute("DROP TABLE bench_queue")
    return leased[0], latencies


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sequential", type=int, default=100, help="pairs in the sequential run (s)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one next and one submit")
    parser.add_argument("--db", default="dlsaas_bench_next")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()}")
    scratch.create_database(ADMIN_URL, args.db, APP_ROLE)
    app_url = f"postgres://{APP_ROLE}@127.0.0.1:5432/{args.db}"
    try:
        scratch.setup_django(app_url, API_THROTTLE_USER="100000000/minute")
        state = seed(args.items, args.annotators)

        sequential = run_sequential(state, args.sequential, args.show_queries)
        print(f"(s) sequential, one annotator, {args.sequential} pairs: next {sequential['next_ms']:.1f} ms "
              f"({sequential['next_queries']} queries), submit {sequential['submit_ms']:.1f} ms "
              f"({sequential['submit_queries']} queries), medians")

        sampler = WaitSampler(args.db)
        sampler.start()
        latencies, errors, seconds = run_api(state, args.processes, args.seconds)
        sampler.stopped.set()
        sampler.join()
        if errors:
            print("errors:", *errors[:5], sep="\n  ")
        api_rate = len(latencies) / seconds
        with psycopg.connect(app_url) as conn:
            conn.execute("SELECT set_config('app.rls_bypass', 'on', false)")
            doubles = conn.execute(
                "SELECT count(*) FROM (SELECT work_item_id FROM workforce_workevent WHERE kind = 'leased' "
                "GROUP BY work_item_id HAVING count(DISTINCT actor_id) > 1) d").fetchone()[0]
        print(f"(a) API, {args.annotators} annotators in {args.processes} processes, {seconds:.0f}s: "
              f"{len(latencies):,} leases = {api_rate:,.0f} leases/s (each followed by a submit); next-unit latency "
              f"median {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms; "
              f"units handed out twice: {doubles}")
        print(f"    database connections of (a), mean per sample: {sampler.summary()}")

        raw_leases, raw_latencies = run_raw(app_url, args.items, args.annotators, args.seconds)
        raw_rate = raw_leases / args.seconds
        print(f"(b) bare SKIP LOCKED loop, {args.annotators} connections, {args.seconds:.0f}s: {raw_leases:,} leases = "
              f"{raw_rate:,.0f} leases/s; latency median {statistics.median(raw_latencies):.2f} ms, "
              f"p99 {percentile(raw_latencies, 0.99):.2f} ms")
        print(f"ratio (a)/(b): {api_rate / raw_rate:.3f} of the bare loop's rate")
        print(f"load average at end: {os.getloadavg()}")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            scratch.drop_database(ADMIN_URL, args.db)


if __name__ == "__main__":
    main()
