"""Scorecards of a task with 100 annotators and 1,000,000 work events, beside a plain pandas groupby of the same rows.

    ./scripts/ensure-services.sh
    .venv/bin/python bench/scorecards.py [--events 1000000] [--annotators 100] [--reviewers 5] [--keep] [--reuse]

Creates a scratch database (`dlsaas_bench_scorecards`, owned by the application role, row-level security on),
migrates it and loads with COPY (staging table, then INSERT ... SELECT, as the application role), seeded: one
task, its items, one annotate unit per item spread over the annotators (hourly rates set), a review unit for 20 %
of them (30 % of those rejected and reworked), and the unit's events over 30 days — lease, 8 to 20 heartbeats,
submit; review lease, 3 heartbeats, decision on both units; rework lease, 3 heartbeats, submit, approval — until
the log holds exactly --events rows; 5 % of the units get a gold score. Then, in this order:

  (b) baseline   COPY (SELECT unit, actor, kind, at, active, wall, stage FROM the task's events) TO STDOUT as CSV
                 into memory, pandas.read_csv of all of it at once, and a plain groupby per annotator: active and
                 wall sums, submissions, units, median and p90 of active seconds per unit
  (a) ours       apps.performance.services.report_rows(group=annotator) in the organisation's tenant context, as
                 the API runs it: PostgreSQL pre-aggregates per (unit, person, day), a server-side cursor feeds
                 pandas 20,000 rows at a time; then the day and task groups too

Each runs once untimed (so neither pays for a cold cache), then once timed, then once under tracemalloc for its
peak of Python-allocated memory (numpy and pandas buffers included); the process's RSS high-water mark (VmHWM,
reset through /proc/self/clear_refs) is also shown.
PostgreSQL's time is inside both; its memory is not.
"""

import argparse
import contextlib
import io
import os
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench.scratch import add_scratch_arguments, run_on_scratch

SPEC = {"labels": [{"name": "car", "tools": ["bbox"]}]}
EVENTS_PER_UNIT = 17.6  # the mean of the plan below, to size the items
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
WORKITEM_COLUMNS = ("organization_id, task_id, item_id, stage, slot, state, assignee_id, annotator_id, reviews_id,"
                    " priority, is_gold, attempts, active_seconds, version, created_at")
EVENT_COLUMNS = "organization_id, task_id, work_item_id, actor_id, kind, at, active_seconds, wall_seconds, data"


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


def _copy_via_stage(conn, table: str, columns: str, lines) -> None:
    """COPY FROM is refused on a table under row-level security: stage, then INSERT ... SELECT."""
    stage = f"stage_{table}"
    conn.execute(f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA")
    with conn.cursor() as cur, cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        buffer = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= 20_000:
                copy.write("".join(buffer))
                buffer = []
        copy.write("".join(buffer))
    conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}")
    conn.execute(f"DROP TABLE {stage}")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def event_lines(units, reviews, ids, target: int):
    """The work log: exactly `target` rows, unit after unit, seeded."""
    rng = random.Random(11)
    org, task = ids["org"], ids["task"]
    written = 0

    def line(unit, actor, kind, moment, active=0.0, wall=0.0):
        return f"{org}\t{task}\t{unit}\t{actor}\t{kind}\t{_ts(moment)}\t{active:.1f}\t{wall:.1f}\t{{}}\n"

    for n, (unit, annotator) in enumerate(units):
        moment = START + timedelta(days=n % 30, seconds=rng.randrange(0, 9 * 3600))
        plan = [line(unit, annotator, "leased", moment)]
        total = 0.0
        for _ in range(rng.randint(8, 20)):
            moment += timedelta(seconds=30)
            active = rng.uniform(5, 30)
            total += active
            plan.append(line(unit, annotator, "heartbeat", moment, active))
        moment += timedelta(seconds=5)
        plan.append(line(unit, annotator, "submitted", moment, total, 30.0 * len(plan)))
        review = reviews.get(unit)
        if review is not None:
            review_unit, reviewer, rejected = review
            moment += timedelta(minutes=20)
            plan.append(line(review_unit, reviewer, "leased", moment))
            for _ in range(3):
                moment += timedelta(seconds=20)
                plan.append(line(review_unit, reviewer, "heartbeat", moment, 15.0))
            kind = "rejected" if rejected else "approved"
            plan.append(line(review_unit, reviewer, kind, moment, 45.0, 70.0))
            plan.append(line(unit, reviewer, kind, moment))
            if rejected:
                moment += timedelta(hours=2)
                plan.append(line(unit, annotator, "leased", moment))
                for _ in range(3):
                    moment += timedelta(seconds=30)
                    plan.append(line(unit, annotator, "heartbeat", moment, 20.0))
                plan.append(line(unit, annotator, "submitted", moment, total + 60, 95.0))
                plan.append(line(unit, reviewer, "approved", moment + timedelta(minutes=30)))
        for text in plan:
            if written == target:
                return
            written += 1
            yield text
    if written < target:
        raise SystemExit(f"only {written:,} events planned for {target:,}: raise EVENTS_PER_UNIT's margin")


def seed(app_url: str, events: int, annotators: int, reviewers: int) -> None:
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from apps.datasets.models import Dataset
    from apps.recipes.services import recipe_create, recipe_publish
    from apps.tenancy.context import system_context, tenant_context
    from apps.tenancy.models import Membership, Organization
    from apps.tenancy.roles import Role
    from apps.workforce.models import GoldScore, Task, TaskMember

    User = get_user_model()
    with system_context():
        org = Organization.objects.create(name="Bench scorecards", slug="bench-scorecards", region="eu")
        owner = User.objects.create_user(email="bench-owner@example.test", password=None)
        Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
        people = User.objects.bulk_create(
            [User(email=f"annotator{i:03d}@example.test", full_name=f"Annotator {i:03d}") for i in range(annotators)]
            + [User(email=f"reviewer{i:02d}@example.test", full_name=f"Reviewer {i:02d}") for i in range(reviewers)])
        workers, checkers = people[:annotators], people[annotators:]
        Membership.objects.bulk_create(
            [Membership(organization=org, user=u, role=Role.ANNOTATOR) for u in workers]
            + [Membership(organization=org, user=u, role=Role.REVIEWER) for u in checkers])
        dataset = Dataset.objects.create(organization=org, name="scorecards", created_by=owner)
    with tenant_context(org, owner):
        recipe = recipe_create(org=org, actor=owner, name="Cars", spec=SPEC)
        version = recipe_publish(org=org, actor=owner, recipe=recipe, message="bench")
        task = Task.objects.create(organization=org, name="Scorecards", dataset=dataset, recipe_version=version,
                                   review_ratio=0.2, created_by=owner)
        TaskMember.objects.bulk_create(
            [TaskMember(organization=org, task=task, user=u, role="annotator", hourly_rate=Decimal(12 + i % 10),
                        currency="EUR") for i, u in enumerate(workers)]
            + [TaskMember(organization=org, task=task, user=u, role="reviewer", hourly_rate=Decimal("25"),
                          currency="EUR") for u in checkers])
    n_units = int(events / EVENTS_PER_UNIT * 1.1) + 10
    ids = {"org": org.pk, "task": task.pk}
    rng = random.Random(5)
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('app.current_org', %s, false)", [str(org.pk)])
        started = time.perf_counter()
        item_columns = ("organization_id, dataset_id, kind, name, folder, status, mime, size, width, height, metadata,"
                        " created_by_id")
        _copy_via_stage(conn, "datasets_item", item_columns, (
            f"{org.pk}\t{dataset.pk}\timage\tframe_{i:07d}.jpg\t/\tready\timage/jpeg\t1000\t640\t480\t{{}}"
            f"\t{owner.pk}\n"
            for i in range(n_units)))
        item_ids = [r[0] for r in conn.execute("SELECT id FROM datasets_item WHERE dataset_id = %s ORDER BY id",
                                               [dataset.pk])]
        now = _ts(START)
        _copy_via_stage(conn, "workforce_workitem", WORKITEM_COLUMNS, (
            f"{org.pk}\t{task.pk}\t{item}\tannotate\t0\tsubmitted\t{workers[n % annotators].pk}\t\\N\t\\N\t0\tf\t1"
            f"\t0\t1\t{now}\n" for n, item in enumerate(item_ids)))
        units = conn.execute("SELECT id, assignee_id, item_id FROM workforce_workitem WHERE task_id = %s"
                             " AND stage = 'annotate' ORDER BY id", [task.pk]).fetchall()
        reviewed = [(u, a, item) for u, a, item in units if rng.random() < 0.2]
        _copy_via_stage(conn, "workforce_workitem", WORKITEM_COLUMNS, (
            f"{org.pk}\t{task.pk}\t{item}\treview\t0\tdone\t{checkers[n % reviewers].pk}\t{a}\t{u}\t0\tf\t1\t0\t1"
            f"\t{now}\n" for n, (u, a, item) in enumerate(reviewed)))
        review_rows = conn.execute("SELECT reviews_id, id, assignee_id FROM workforce_workitem WHERE task_id = %s"
                                   " AND stage = 'review'", [task.pk]).fetchall()
        reviews = {work: (review, reviewer, rng.random() < 0.3) for work, review, reviewer in review_rows}
        print(f"  {len(item_ids):,} items, {len(units):,} annotate and {len(review_rows):,} review units by COPY in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        started = time.perf_counter()
        _copy_via_stage(conn, "workforce_workevent", EVENT_COLUMNS,
                        event_lines([(u, a) for u, a, _item in units], reviews, ids, events))
        conn.commit()
        print(f"  {events:,} work events by COPY in {time.perf_counter() - started:.1f}s", flush=True)
    with tenant_context(org, owner):
        gold = [u for u in units if rng.random() < 0.05]
        GoldScore.objects.bulk_create([
            GoldScore(organization=org, task=task, work_item_id=u, user_id=a, score=round(rng.uniform(0.5, 1), 3),
                      at=START + timedelta(days=n % 30, hours=10)) for n, (u, a, _item) in enumerate(gold)])
    with psycopg.connect(app_url, autocommit=True) as conn:
        for table in ("workforce_workevent", "workforce_workitem", "workforce_goldscore", "datasets_item"):
            conn.execute(f"VACUUM ANALYZE {table}")


def baseline(app_url: str, org_id: int, task_id: int):
    """Everything in one go: COPY to CSV in memory, read_csv, groupby."""
    import pandas as pd

    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('app.current_org', %s, false)", [str(org_id)])
        buffer = io.BytesIO()
        with conn.cursor() as cur, cur.copy(
                "COPY (SELECT e.work_item_id, e.actor_id, e.kind, e.at, e.active_seconds, e.wall_seconds, w.stage"
                " FROM workforce_workevent e JOIN workforce_workitem w ON w.id = e.work_item_id"
                " WHERE e.organization_id = %s AND e.task_id = %s) TO STDOUT WITH (FORMAT csv, HEADER)",
                [org_id, task_id]) as copy:
            for data in copy:
                buffer.write(data)
    buffer.seek(0)
    frame = pd.read_csv(buffer, parse_dates=["at"])
    del buffer
    work = frame[frame["stage"] == "annotate"]
    beats = work[work["kind"] == "heartbeat"]
    per_unit = beats.groupby(["actor_id", "work_item_id"])["active_seconds"].sum()
    submitted = work[work["kind"] == "submitted"]
    done = per_unit[per_unit.index.isin(pd.MultiIndex.from_frame(
        submitted[["actor_id", "work_item_id"]].drop_duplicates()))]
    table = pd.DataFrame({
        "active_seconds": beats.groupby("actor_id")["active_seconds"].sum(),
        "wall_seconds": work.groupby("actor_id")["wall_seconds"].sum(),
        "submissions": submitted.groupby("actor_id").size(),
        "units_done": done.groupby(level="actor_id").size(),
        "time_per_item_median": done.groupby(level="actor_id").median(),
        "time_per_item_p90": done.groupby(level="actor_id").quantile(0.9),
    })
    return table[table["units_done"].notna()], len(frame)  # reviewers' decisions on annotate units are not rows


def ours(org, owner, task, group: str = "annotator"):
    from apps.performance.reports import ReportQuery
    from apps.performance.services import report_rows
    from apps.tenancy.context import tenant_context

    with tenant_context(org, owner):
        return report_rows(org=org, query=ReportQuery(group=group, task_id=task.pk))


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def traced(fn, *args, **kwargs) -> tuple[float, float]:
    """(tracemalloc peak MB, VmHWM MB) of one more run."""
    measured = reset_peak()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args, **kwargs)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, rss_mb("VmHWM") if measured else float("nan")


def measure(args, app_url: str, reuse: bool) -> None:
    from apps.tenancy.context import system_context
    from apps.tenancy.models import Organization
    from apps.workforce.models import Task, WorkEvent

    if not reuse:
        print(f"seeding {args.events:,} work events for {args.annotators} annotators ...", flush=True)
        seed(app_url, args.events, args.annotators, args.reviewers)
    with system_context():
        org = Organization.objects.get(slug="bench-scorecards")
        task = Task.objects.get(organization=org, name="Scorecards")
        owner = task.created_by
        stored = WorkEvent.objects.filter(task=task).count()
    if stored != args.events:
        raise SystemExit(f"the scratch database holds {stored:,} events, not {args.events:,}: run without --reuse")

    rss_before = rss_mb()
    baseline(app_url, org.pk, task.pk)  # one untimed run of each first: neither pays for a cold cache
    ours(org, owner, task)
    (plain, rows), plain_s = timed(baseline, app_url, org.pk, task.pk)
    report, ours_s = timed(ours, org, owner, task)
    _day, day_s = timed(ours, org, owner, task, "day")
    _task, task_s = timed(ours, org, owner, task, "task")
    plain_peak, plain_hwm = traced(baseline, app_url, org.pk, task.pk)
    ours_peak, ours_hwm = traced(ours, org, owner, task)

    check = {row["id"]: row for row in report}
    mismatches = sum(1 for actor, row in plain.iterrows()
                     if check[actor]["units_done"] != row["units_done"]
                     or abs(check[actor]["active_seconds"] - row["active_seconds"]) > 1e-6 * row["active_seconds"]
                     or abs(check[actor]["time_per_item_p90"] - row["time_per_item_p90"]) > 1e-6)
    print(f"\nscorecards of {len(report)} annotators over {rows:,} work events "
          f"(load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs)")
    print(f"  {'step':<58} {'seconds':>8} {'events/s':>11} {'x baseline':>10} {'peak MB':>8}")
    print(f"  {'(b) baseline: COPY to CSV, read_csv all, pandas groupby':<58} {plain_s:8.2f} {rows / plain_s:11,.0f}"
          f" {1:9.2f}x {plain_peak:8.0f}")
    print(f"  {'(a) ours: report_rows(group=annotator), chunked':<58} {ours_s:8.2f} {rows / ours_s:11,.0f}"
          f" {ours_s / plain_s:9.2f}x {ours_peak:8.0f}")
    print(f"  {'(a) ours: group=day':<58} {day_s:8.2f} {rows / day_s:11,.0f} {day_s / plain_s:9.2f}x")
    print(f"  {'(a) ours: group=task':<58} {task_s:8.2f} {rows / task_s:11,.0f} {task_s / plain_s:9.2f}x")
    print(f"  peak Python memory (tracemalloc): ours {ours_peak:.0f} MB vs baseline {plain_peak:.0f} MB "
          f"= {ours_peak / plain_peak:.2f}x; RSS before {rss_before:.0f} MB, high-water mark during the baseline "
          f"{plain_hwm:.0f} MB, during ours {ours_hwm:.0f} MB")
    print(f"  the two agree on units done, active seconds and p90 for {len(plain) - mismatches} of {len(plain)} "
          "annotators")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--annotators", type=int, default=100)
    parser.add_argument("--reviewers", type=int, default=5)
    add_scratch_arguments(parser, "dlsaas_bench_scorecards")
    run_on_scratch(parser.parse_args(), measure)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
