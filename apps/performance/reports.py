"""Performance reports computed with pandas from the work-event log, in bounded memory.

PostgreSQL pre-aggregates the events to one row per (unit, person, UTC day) — sums of active, wall and rework
seconds, counts of submissions and decisions, annotations created and gold scores — and sends them through a
server-side cursor ordered by unit. pandas reads CHUNK_ROWS rows at a time (never splitting a unit across two
chunks), reduces each chunk to partial sums per group plus one number per unit done (its active seconds, needed for
the exact median and p90), and combines the partials at the end. Memory grows with the number of groups and units
done, not with the number of events. The figures and their formulas are in figures.py.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection, transaction

from . import figures, selectors

GROUPS = ("annotator", "reviewer", "task", "day")
STAGES = ("annotate", "review")
PERSON_GROUPS = {"annotator": "annotate", "reviewer": "review"}
CHUNK_ROWS = 20_000
MAX_FILLED_DAYS = 400

ROW_COLUMNS = ["unit", "task", "person", "day", "active_seconds", "wall_seconds", "rework_seconds", "submissions",
               "approvals", "rejections", "annotations", "gold_sum", "gold_samples"]

# The quality app plugs its annotator score in here (see register_quality_source).
_quality_sources: list[Callable] = []


def register_quality_source(source: Callable) -> None:
    """`source(org_id=..., task_id=int | None, user_ids=[...]) -> {user_id: score in [0, 1]}`, called for the
    annotator and reviewer groups; its score wins over the gold score and the approval rate (figures.py)."""
    if source not in _quality_sources:
        _quality_sources.append(source)


@dataclass(frozen=True)
class ReportQuery:
    group: str = "annotator"
    stage: str = "annotate"
    task_id: int | None = None
    person_id: int | None = None
    start: date | None = None
    end: date | None = None  # inclusive

    @property
    def effective_stage(self) -> str:
        return PERSON_GROUPS.get(self.group, self.stage)

    @property
    def start_at(self) -> datetime | None:
        return None if self.start is None else datetime(self.start.year, self.start.month, self.start.day,
                                                        tzinfo=UTC)

    @property
    def end_at(self) -> datetime | None:
        if self.end is None:
            return None
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC) + timedelta(days=1)


def _sql(query: ReportQuery) -> tuple[str, dict]:
    """The pre-aggregation: one row per (unit, person, day), ordered by unit. Only this module's SQL text is
    formatted in; every value is a bound parameter."""
    params = {"org": None, "stage": query.effective_stage, "task": query.task_id, "person": query.person_id,
              "start": query.start_at, "end": query.end_at}
    event_filter = ["e.organization_id = %(org)s", "w.stage = %(stage)s"]
    gold_filter = ["g.organization_id = %(org)s"]
    revision_filter = ["r.organization_id = %(org)s", "r.action = 'created'", "r.data ? 'layer'"]
    unit_filter = ["u.organization_id = %(org)s", "u.stage = 'annotate'"]
    if query.task_id is not None:
        event_filter.append("e.task_id = %(task)s")
        gold_filter.append("g.task_id = %(task)s")
        unit_filter.append("u.task_id = %(task)s")
    for column, filters in (("e.at", event_filter), ("g.at", gold_filter), ("r.at", revision_filter)):
        if query.start_at is not None:
            filters.append(f"{column} >= %(start)s")
        if query.end_at is not None:
            filters.append(f"{column} < %(end)s")
    person_filter = "WHERE person_id = %(person)s" if query.person_id is not None else ""
    if query.effective_stage == "annotate":
        annotations = f"""
        SELECT (r.data->>'layer')::bigint AS unit, r.actor_id AS person_id, (r.at AT TIME ZONE 'UTC')::date AS day,
               count(*) AS n
        FROM annotations_annotationrevision r
        WHERE {" AND ".join(revision_filter)}
          AND r.item_id IN (SELECT u.item_id FROM workforce_workitem u WHERE {" AND ".join(unit_filter)})
        GROUP BY 1, 2, 3"""
    else:
        annotations = "SELECT NULL::bigint AS unit, NULL::bigint AS person_id, NULL::date AS day, 0::bigint AS n"
    sql = f"""
    WITH rej AS (
        -- each unit's first rejection in the range: rework is the active time after it (a hash join, no sort)
        SELECT e.work_item_id AS unit, min(e.at) AS rejected_at
        FROM workforce_workevent e
        WHERE {" AND ".join(f for f in event_filter if not f.startswith("w."))} AND e.kind = 'rejected'
        GROUP BY 1
    ),
    ev AS (
        SELECT e.work_item_id AS unit, w.task_id,
               CASE WHEN w.stage = 'annotate' AND e.kind IN ('approved', 'rejected') THEN w.assignee_id
                    ELSE e.actor_id END AS person_id,
               e.kind, e.at, e.active_seconds, e.wall_seconds, rej.rejected_at
        FROM workforce_workevent e
        JOIN workforce_workitem w ON w.id = e.work_item_id AND w.organization_id = e.organization_id
        LEFT JOIN rej ON rej.unit = e.work_item_id
        WHERE {" AND ".join(event_filter)}
    ),
    per AS (
        SELECT unit, task_id, person_id, (at AT TIME ZONE 'UTC')::date AS day,
               coalesce(sum(active_seconds) FILTER (WHERE kind = 'heartbeat'), 0) AS active,
               coalesce(sum(wall_seconds), 0) AS wall,
               coalesce(sum(active_seconds) FILTER (WHERE kind = 'heartbeat' AND at > rejected_at), 0) AS rework,
               count(*) FILTER (WHERE kind = 'submitted') AS submissions,
               count(*) FILTER (WHERE kind = 'approved') AS approvals,
               count(*) FILTER (WHERE kind = 'rejected') AS rejections
        FROM ev {person_filter}
        GROUP BY 1, 2, 3, 4
    ),
    ann AS ({annotations}
    ),
    gold AS (
        SELECT g.work_item_id AS unit, g.user_id AS person_id, (g.at AT TIME ZONE 'UTC')::date AS day,
               sum(g.score) AS s, count(*) AS n
        FROM workforce_goldscore g WHERE {" AND ".join(gold_filter)}
        GROUP BY 1, 2, 3
    )
    SELECT p.unit, p.task_id, coalesce(p.person_id, -1), to_char(p.day, 'YYYY-MM-DD'), p.active, p.wall, p.rework,
           p.submissions, p.approvals, p.rejections, coalesce(a.n, 0), coalesce(g.s, 0), coalesce(g.n, 0)
    FROM per p
    LEFT JOIN ann a ON a.unit = p.unit AND a.person_id = p.person_id AND a.day = p.day
    LEFT JOIN gold g ON g.unit = p.unit AND g.person_id = p.person_id AND g.day = p.day
    ORDER BY p.unit
    """
    return sql, params


def iter_unit_rows(*, org_id: int, query: ReportQuery, chunk_rows: int = CHUNK_ROWS) -> Iterable[pd.DataFrame]:
    """The pre-aggregated rows as DataFrames of at most about `chunk_rows` rows, each holding whole units."""
    sql, params = _sql(query)
    params["org"] = org_id
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        carry: list[tuple] = []
        while True:
            rows = cursor.fetchmany(chunk_rows)
            if not rows:
                if carry:
                    yield _frame(carry)
                return
            rows = carry + rows
            last, cut = rows[-1][0], len(rows)
            while cut > 0 and rows[cut - 1][0] == last:
                cut -= 1
            if cut == 0:  # one unit longer than a chunk: read on until it ends
                carry = rows
                continue
            yield _frame(rows[:cut])
            carry = rows[cut:]


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=ROW_COLUMNS)
    for column in ("active_seconds", "wall_seconds", "rework_seconds", "gold_sum"):
        frame[column] = frame[column].astype("float64")
    for column in ("unit", "task", "person", "submissions", "approvals", "rejections", "annotations",
                   "gold_samples"):
        frame[column] = frame[column].astype("int64")
    return frame


class _Accumulator:
    """Partial sums per group key and the active seconds of each unit done, chunk after chunk."""

    def __init__(self, query: ReportQuery, rates: pd.DataFrame):
        self.query = query
        self.rates = rates  # columns task, person, rate, currency
        self.sums: list[pd.DataFrame] = []
        self.currencies: dict = {}
        self.done_keys: list[np.ndarray] = []
        self.done_seconds: list[np.ndarray] = []
        self.done_days: list[np.ndarray] = []

    @property
    def key(self) -> str:
        return {"annotator": "person", "reviewer": "person", "task": "task", "day": "day"}[self.query.group]

    def add(self, chunk: pd.DataFrame) -> None:
        if self.key == "person":
            chunk = chunk[chunk["person"] >= 0]
        if chunk.empty:
            return
        chunk = chunk.merge(self.rates, on=["task", "person"], how="left") if len(self.rates) else chunk.assign(
            rate=np.nan, currency=None)
        chunk["cost"] = chunk["active_seconds"] / 3600.0 * chunk["rate"]
        sums = chunk.groupby(self.key)[figures.SUMMED].sum(min_count=1)
        sums[figures.SUMMED[:-1]] = sums[figures.SUMMED[:-1]].fillna(0)
        self.sums.append(sums)
        priced = chunk[chunk["currency"].notna()]
        for key, currency in zip(priced[self.key], priced["currency"], strict=True):
            self.currencies.setdefault(key, set()).add(currency)
        self._add_units(chunk)

    def _add_units(self, chunk: pd.DataFrame) -> None:
        done_events = chunk["submissions"] if self.query.effective_stage == "annotate" else (
            chunk["approvals"] + chunk["rejections"])
        chunk = chunk.assign(done_events=done_events)
        unit_cols = ["unit", "person"] if self.key == "person" else ["unit"]
        per_unit = chunk.groupby(unit_cols).agg(active=("active_seconds", "sum"), done=("done_events", "sum"),
                                                task=("task", "first"))
        first_day = chunk[chunk["done_events"] > 0].groupby(unit_cols)["day"].min()
        per_unit = per_unit[per_unit["done"] > 0].join(first_day.rename("done_day"))
        if per_unit.empty:
            return
        if self.key == "person":
            keys = per_unit.index.get_level_values("person").to_numpy()
        elif self.key == "task":
            keys = per_unit["task"].to_numpy()
        else:
            keys = per_unit["done_day"].to_numpy()
        self.done_keys.append(keys)
        self.done_seconds.append(per_unit["active"].to_numpy(dtype="float64"))
        self.done_days.append(per_unit["done_day"].to_numpy())

    series: dict = {}

    def result(self) -> pd.DataFrame:
        if self.sums:
            sums = pd.concat(self.sums).groupby(level=0).sum(min_count=1)
            sums[figures.SUMMED[:-1]] = sums[figures.SUMMED[:-1]].fillna(0)
        else:
            sums = pd.DataFrame(columns=figures.SUMMED, dtype="float64")
        if self.done_keys:
            done = pd.DataFrame({"key": np.concatenate(self.done_keys), "t": np.concatenate(self.done_seconds),
                                 "day": np.concatenate(self.done_days)})
            self.series = _series(done)
            per_key = done.groupby("key")["t"].agg(units_done="count", time_per_item_median="median",
                                                   time_per_item_p90=lambda s: s.quantile(0.9))
        else:
            per_key = pd.DataFrame(columns=["units_done", "time_per_item_median", "time_per_item_p90"],
                                   dtype="float64")
        out = sums.join(per_key, how="outer")
        out.index.name = "key"
        return out


def compute(*, org_id: int, query: ReportQuery, expected_keys: Iterable = (),
            chunk_rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """The report as a DataFrame indexed by the group key, one row per group seen in the events or expected
    (members and tasks with no work show as zero rows), with the columns of figures.COLUMNS except id and label."""
    rates = selectors.member_rates(org_id=org_id, task_id=query.task_id, stage=query.effective_stage)
    acc = _Accumulator(query, rates)
    for chunk in iter_unit_rows(org_id=org_id, query=query, chunk_rows=chunk_rows):
        acc.add(chunk)
    table = acc.result()
    if query.group == "day":
        expected_keys = [*expected_keys, *fill_days(query.start, query.end, table.index)]
    table = table.reindex(table.index.union(pd.Index(list(expected_keys), dtype=table.index.dtype
                                                     if len(table.index) else None)))
    for column in [*figures.SUMMED[:-1], "units_done"]:
        table[column] = table[column].fillna(0)
    for column in ("units_done", "submissions", "approvals", "rejections", "annotations", "gold_samples"):
        table[column] = table[column].astype("int64")
    _price(table, acc.currencies, rates, query)
    external = _external_quality(org_id, query, list(table.index)) if query.group in PERSON_GROUPS else None
    table = figures.derive(table, external)
    table.attrs["series"] = acc.series  # units done per key and day: the dashboards' sparklines
    return table


def _series(done: pd.DataFrame) -> dict:
    counts = done.groupby(["key", "day"]).size()
    series: dict = {}
    for (key, day), n in counts.items():
        series.setdefault(key, {})[day] = int(n)
    return series


def _price(table: pd.DataFrame, currencies: dict, rates: pd.DataFrame, query: ReportQuery) -> None:
    """One currency per row: a group whose rates are in several currencies has no total (cost empty, "MIXED")."""
    if query.group in PERSON_GROUPS and len(rates):
        for person, currency in zip(rates["person"], rates["currency"], strict=True):
            currencies.setdefault(person, set()).add(currency)  # a priced member with no work yet costs 0
    codes = []
    for key in table.index:
        found = currencies.get(key, set())
        codes.append(next(iter(found)) if len(found) == 1 else ("MIXED" if found else ""))
    table["currency"] = codes
    mixed = table["currency"] == "MIXED"
    priced = table["currency"] != ""
    table["cost"] = table["cost"].where(priced & ~mixed).astype("float64")
    table.loc[priced & ~mixed, "cost"] = table.loc[priced & ~mixed, "cost"].fillna(0.0)


def _external_quality(org_id: int, query: ReportQuery, user_ids: list) -> dict:
    scores: dict = {}
    for source in _quality_sources:
        scores.update(source(org_id=org_id, task_id=query.task_id, user_ids=user_ids) or {})
    return scores


def fill_days(start: date | None, end: date | None, seen: Iterable[str]) -> list[str]:
    """Every day of the range (or of the days seen) so a trend has no holes, at most MAX_FILLED_DAYS of them."""
    seen = sorted(seen)
    first = start or (date.fromisoformat(seen[0]) if seen else None)
    last = end or (date.fromisoformat(seen[-1]) if seen else None)
    if first is None or last is None or first > last or (last - first).days >= MAX_FILLED_DAYS:
        return list(seen)
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
