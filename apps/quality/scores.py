"""Annotator quality scores: the formulas, in one place.

Samples. Every piece of evidence about one annotator's work on one task is a sample with a value in [0, 1] and a time:
- gold:      a gold (honeypot) unit they submitted, scored against the truth: GoldScore.score, at GoldScore.at;
- review:    a review round of a unit they annotated: 1 when approved, 0 when rejected, at ReviewRound.decided_at
             (a unit rejected then approved after rework counts twice: once 0, once 1);
- consensus: a consensus result of an item where they held a slot: the mean of the pairwise agreement scores that
             involve their slot (ConsensusResult.pairs), at ConsensusResult.at.

Window. Per task, the samples of the last `window_days` days (when the task's QualityPolicy sets it), of which the
latest `window_units` (default 50) count. "Overall" (a person across all tasks) uses the latest
DEFAULT_WINDOW_UNITS samples of any task, with no day limit.

Score. The weighted mean of the samples in the window:  score = sum(w_kind * value) / sum(w_kind), with the
weights in WEIGHTS (all 1: each piece of evidence counts alike). No sample: no score (None), never a made-up 0.

Confidence. `samples` is the number n of samples in the window; [low, high] is the Wilson score interval at 95 %
(z = 1.96) for the score p over n:
    centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z * sqrt(p(1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n).
It is exact for approvals (a proportion) and a fair approximation for the fractional gold and agreement scores; it
is wide for few samples, which is the point: a manager sees 0.50 [0.09, 0.91] after two samples, not a verdict.

Components. Alongside the score: the gold mean and count, the approval rate (approved / decided) with the counts
of approvals and rejections, and the consensus mean and count, each over the same window.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from .models import DEFAULT_WINDOW_UNITS, QualityPolicy

WEIGHTS = {"gold": 1.0, "review": 1.0, "consensus": 1.0}
Z = 1.96


@dataclass
class Window:
    units: int = DEFAULT_WINDOW_UNITS
    days: int | None = None

    def since(self, now: datetime) -> datetime | None:
        return None if self.days is None else now - timedelta(days=self.days)


@dataclass
class Score:
    user_id: int
    samples: int = 0
    score: float | None = None
    low: float | None = None
    high: float | None = None
    gold: dict = field(default_factory=lambda: {"mean": None, "samples": 0})
    review: dict = field(default_factory=lambda: {"approval_rate": None, "approved": 0, "rejected": 0})
    consensus: dict = field(default_factory=lambda: {"mean": None, "samples": 0})
    last_at: datetime | None = None

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "score": self.score, "samples": self.samples, "low": self.low,
                "high": self.high, "gold": self.gold, "review": self.review, "consensus": self.consensus,
                "last_at": self.last_at}


def wilson(p: float, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval for a proportion p over n samples (n >= 1), clipped to [0, 1]."""
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(user_id: int, samples: list[tuple[str, float, datetime]]) -> Score:
    """The score of one person from their windowed samples [(kind, value, at)] (the formulas above)."""
    out = Score(user_id=user_id, samples=len(samples))
    if not samples:
        return out
    weight = sum(WEIGHTS[k] for k, _, _ in samples)
    out.score = sum(WEIGHTS[k] * v for k, v, _ in samples) / weight
    out.low, out.high = wilson(out.score, out.samples)
    out.last_at = max(at for _, _, at in samples)
    gold = [v for k, v, _ in samples if k == "gold"]
    agreement = [v for k, v, _ in samples if k == "consensus"]
    approved = sum(1 for k, v, _ in samples if k == "review" and v >= 1)
    rejected = sum(1 for k, v, _ in samples if k == "review" and v < 1)
    out.gold = {"mean": sum(gold) / len(gold) if gold else None, "samples": len(gold)}
    out.consensus = {"mean": sum(agreement) / len(agreement) if agreement else None, "samples": len(agreement)}
    out.review = {"approval_rate": approved / (approved + rejected) if approved + rejected else None,
                  "approved": approved, "rejected": rejected}
    return out


# One row per sample; every value is a bound parameter, the filters are this module's own text.
_SAMPLES = """
WITH samples AS (
    SELECT g.task_id, g.user_id, 'gold' AS kind, g.score AS value, g.at
    FROM workforce_goldscore g
    WHERE g.organization_id = %(org)s {gold_filter}
  UNION ALL
    SELECT w.task_id, w.assignee_id AS user_id, 'review' AS kind,
           CASE WHEN r.decision = 'approved' THEN 1.0 ELSE 0.0 END AS value, r.decided_at AS at
    FROM workforce_reviewround r
    JOIN workforce_workitem w ON w.id = r.work_item_id AND w.organization_id = r.organization_id
    WHERE r.organization_id = %(org)s AND w.assignee_id IS NOT NULL {work_filter}
  UNION ALL
    SELECT c.task_id, w.assignee_id AS user_id, 'consensus' AS kind, avg((p.pair->>'score')::float8) AS value, c.at
    FROM workforce_consensusresult c
    CROSS JOIN LATERAL jsonb_array_elements(c.pairs) AS p(pair)
    JOIN workforce_workitem w ON w.organization_id = c.organization_id
         AND w.id IN ((p.pair->>'a')::bigint, (p.pair->>'b')::bigint)
    WHERE c.organization_id = %(org)s AND w.assignee_id IS NOT NULL {consensus_filter} {work_filter}
    GROUP BY c.id, c.task_id, w.assignee_id, c.at
)
SELECT user_id, kind, value, at FROM (
    SELECT s.*, row_number() OVER (PARTITION BY s.user_id ORDER BY s.at DESC, s.kind) AS n
    FROM samples s {since_filter}
) ranked
WHERE n <= %(units)s
ORDER BY user_id, at DESC
"""


def _samples(*, org_id: int, task_id: int | None, user_ids: list[int] | None, window: Window,
             now: datetime) -> dict[int, list]:
    params = {"org": org_id, "task": task_id, "users": list(user_ids or []), "units": window.units,
              "since": window.since(now)}
    gold, work, consensus = [], [], []
    if task_id is not None:
        gold.append("AND g.task_id = %(task)s")
        work.append("AND w.task_id = %(task)s")
        consensus.append("AND c.task_id = %(task)s")
    if user_ids is not None:
        gold.append("AND g.user_id = ANY(%(users)s)")
        work.append("AND w.assignee_id = ANY(%(users)s)")
    sql = _SAMPLES.format(gold_filter=" ".join(gold), work_filter=" ".join(work),
                          consensus_filter=" ".join(consensus),
                          since_filter="WHERE s.at >= %(since)s" if params["since"] is not None else "")
    rows: dict[int, list] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for user_id, kind, value, at in cursor.fetchall():
            rows.setdefault(user_id, []).append((kind, float(value), at))
    return rows


def task_window(task) -> Window:
    policy = QualityPolicy.objects.for_org(task.organization_id).filter(task=task).first()
    return Window() if policy is None else Window(units=policy.window_units, days=policy.window_days)


def scores(*, org_id: int, task=None, user_ids: list[int] | None = None, window: Window | None = None,
           now: datetime | None = None) -> dict[int, Score]:
    """{user_id: Score} on one task (its window) or overall (task None: all the organisation's tasks), for the
    given people or everyone with samples. People asked for without a sample get an empty Score."""
    now = now or timezone.now()
    window = window or (task_window(task) if task is not None else Window())
    rows = _samples(org_id=org_id, task_id=getattr(task, "pk", None), user_ids=user_ids, window=window, now=now)
    wanted = set(rows) | set(user_ids or [])
    return {user_id: summarise(user_id, rows.get(user_id, [])) for user_id in wanted}
