"""The audit trail under load: write throughput with the hash chain, and how fast a chain of a million verifies.

    .venv/bin/python bench/audit_chain.py [--writers 32] [--processes 4] [--seconds 15] [--verify-events 1000000]
                                          [--db NAME] [--keep]

Seeds a scratch database (bench/scratch.py) with one organisation. Then:

(a) writes: `--writers` writers (threads spread over `--processes` processes, each thread with its own connection)
    call `audit_record()` in a loop for `--seconds`, one event per transaction (the worst case: every event commits
    on its own), through the real path: tenant context and row-level security, the insert, the queueing trigger,
    the seal attempted after commit. Reports events/s written, then seals what is left, verifies the chain and
    reports how many events waited for their seal when the writers stopped.
(b) the baseline for (a): the same writers, each INSERTing the same columns into a plain copy of the table (no
    trigger, no row-level security, no chain) with raw psycopg, one row per transaction.
(c) verification: tops the chain up to `--verify-events` events (COPY, as a fast writer would; the queueing
    trigger fires for it), seals them (events/s sealed) and runs the verification (events/s verified).
(d) the baseline for (c): the same rows read through the same query with nothing computed.
"""

import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench import scratch

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
APP_ROLE = "dlsaas"


def _django(app_url: str) -> None:
    os.environ["DATABASE_URL"] = app_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "dlsaas.settings"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    import django

    django.setup()


def _wait_for_start(start_at) -> float:
    """Waits until the parent has set the start time (once every process is set up) and it has come."""
    while start_at.value == 0 or time.time() < start_at.value:
        time.sleep(0.001)
    return start_at.value


def _app_writer_process(app_url: str, org_id: int, threads: int, seconds: float, start_at, ready, out) -> None:
    _django(app_url)
    from django.db import connection

    from apps.compliance.services import audit_record
    from apps.tenancy.context import TenantState, set_state

    counts = [0] * threads

    def loop(n: int) -> None:
        try:
            set_state(TenantState(org_id=org_id))  # as a request of the organisation has it
            ready.put(n)
            end = _wait_for_start(start_at) + seconds
            i = 0
            while time.time() < end:
                audit_record(org=org_id, actor=None, action="bench.write", target_type="bench.thing",
                             target_id=str(i), metadata={"writer": n, "i": i})
                i += 1
            counts[n] = i
        finally:
            connection.close()

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    _wait_for_start(start_at)
    cpu = time.process_time()
    for w in workers:
        w.join()
    out.put((sum(counts), time.process_time() - cpu))


def _raw_writer_process(app_url: str, org_id: int, threads: int, seconds: float, start_at, ready, out) -> None:
    counts = [0] * threads

    def loop(n: int) -> None:
        with psycopg.connect(app_url, autocommit=True) as conn:
            ready.put(n)
            end = _wait_for_start(start_at) + seconds
            i = 0
            while time.time() < end:
                conn.execute(
                    "INSERT INTO bench_plain_audit (organization_id, occurred_at, actor_type, actor_label, action,"
                    " target_type, target_id, target_label, metadata, user_agent, request_id)"
                    " VALUES (%s, now(), 'system', 'system', 'bench.write', 'bench.thing', %s, '', %s, '', '')",
                    [org_id, str(i), psycopg.types.json.Jsonb({"writer": n, "i": i})],
                )
                i += 1
            counts[n] = i

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    _wait_for_start(start_at)
    cpu = time.process_time()
    for w in workers:
        w.join()
    out.put((sum(counts), time.process_time() - cpu))


def run_writers(target, app_url: str, org_id: int, writers: int, processes: int, seconds: float) -> tuple[float, float]:
    """Events (rows) per second, and the writer processes' CPU seconds per event."""
    ctx = multiprocessing.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Queue()
    start_at = ctx.Value("d", 0.0)  # set once every writer has imported and connected (minutes on a loaded box)
    per = [writers // processes + (1 if p < writers % processes else 0) for p in range(processes)]
    procs = [ctx.Process(target=target, args=(app_url, org_id, n, seconds, start_at, ready, out)) for n in per if n]
    for p in procs:
        p.start()
    for _ in range(sum(per)):
        ready.get()
    start_at.value = time.time() + 0.5
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    total, cpu = sum(n for n, _ in results), sum(c for _, c in results)
    return total / seconds, cpu / max(total, 1)


def copy_events(db_url: str, org_id: int, n: int) -> float:
    """COPY as the database owner's superuser: row-level security refuses COPY FROM to the application's role."""
    t = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        with conn.cursor().copy(
            "COPY compliance_auditevent (organization_id, occurred_at, actor_type, actor_label, action, target_type,"
            " target_id, target_label, metadata, user_agent, request_id) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((org_id, "2026-11-26 12:00:00+00", "system", "system", "bench.copied", "bench.thing",
                                str(i), f"thing {i}", f'{{"i": {i}, "who": "ünïcode"}}', "bench", ""))
        conn.commit()
    return time.perf_counter() - t


def read_baseline(app_url: str, org_id: int) -> tuple[int, float]:
    from apps.compliance.chain import event_select

    t = time.perf_counter()
    n = 0
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('app.rls_bypass', 'on', false)")
        with conn.cursor(name="baseline") as cur:
            cur.itersize = 10_000
            cur.execute(
                f"SELECT l.organization_id, l.sequence, l.prev_hash, l.hash, {event_select('postgresql')}"
                " FROM compliance_auditchainlink l LEFT JOIN compliance_auditevent e ON e.id = l.event_id"
                " WHERE l.organization_id = %s ORDER BY l.organization_id NULLS FIRST, l.sequence", [org_id],
            )
            for _ in cur:
                n += 1
    return n, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--db", default="dlsaas_bench_audit")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    scratch.create_database(ADMIN_URL, args.db, APP_ROLE)
    app_url = f"postgres://{APP_ROLE}@127.0.0.1:5432/{args.db}"
    try:
        scratch.setup_django(app_url)
        from apps.compliance.models import AuditChainLink, AuditEvent, AuditPendingSeal
        from apps.compliance.sealing import seal_pending
        from apps.compliance.selectors import audit_chain_verify
        from apps.tenancy.context import system_context
        from apps.tenancy.models import Organization

        with system_context():
            org = Organization.objects.create(name="Bench audit", slug="bench-audit", region="eu")
        from django.core.cache import cache

        cache.delete(f"dlsaas:audit-seal:{org.pk}")  # the shared seal debounce a run before may have left
        with psycopg.connect(app_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_plain_audit (LIKE compliance_auditevent INCLUDING DEFAULTS"
                         " INCLUDING INDEXES INCLUDING IDENTITY)")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
        print(f"(a) {args.writers} writers over {args.processes} processes, {args.seconds:.0f} s, one event per commit")
        writers = (app_url, org.pk, args.writers, args.processes, args.seconds)
        app_rate, app_cpu = run_writers(_app_writer_process, *writers)
        with system_context():
            waiting = AuditPendingSeal.objects.filter(organization_id=org.pk).count()
        print(f"    audit_record(): {app_rate:,.0f} events/s written ({app_cpu * 1e6:,.0f} us of writer-process CPU an"
              f" event, sealing included); {waiting:,} waiting for their seal at the end")
        t = time.perf_counter()
        seal_pending(org.pk)
        report = audit_chain_verify(org_id=org.pk)
        print(f"    sealed the rest in {time.perf_counter() - t:.2f} s; chain ok={report.ok}, "
              f"{report.events_checked:,} events, broken={report.broken}")
        raw_rate, raw_cpu = run_writers(_raw_writer_process, *writers)
        print(f"(b) bare INSERT, same writers: {raw_rate:,.0f} rows/s ({raw_cpu * 1e6:,.0f} us of CPU a row);"
              f"  ratio (a)/(b) = {app_rate / raw_rate:.2f}")

        with system_context():
            have = AuditEvent.objects.filter(organization_id=org.pk).count()
        extra = max(0, args.verify_events - have)
        copy_s = copy_events(ADMIN_URL.rsplit('/', 1)[0] + '/' + args.db, org.pk, extra)
        print(f"(c) copied {extra:,} more events in {copy_s:.1f} s")
        t = time.perf_counter()
        sealed = seal_pending(org.pk)
        seal_s = time.perf_counter() - t
        print(f"    sealed {sealed:,} in {seal_s:.1f} s: {sealed / seal_s:,.0f} events/s")
        t = time.perf_counter()
        report = audit_chain_verify(org_id=org.pk)
        verify_s = time.perf_counter() - t
        print(f"    verified {report.events_checked:,} in {verify_s:.1f} s: {report.events_checked / verify_s:,.0f} "
              f"events/s; ok={report.ok}")
        n, read_s = read_baseline(app_url, org.pk)
        print(f"(d) reading the same {n:,} rows, nothing computed: {read_s:.1f} s ({n / read_s:,.0f} rows/s); "
              f"verification costs {verify_s / read_s:.1f}x the read")
        with system_context():
            assert AuditChainLink.objects.filter(organization_id=org.pk).count() == report.events_checked
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            scratch.drop_database(ADMIN_URL, args.db)


if __name__ == "__main__":
    main()
