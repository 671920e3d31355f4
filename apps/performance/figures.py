"""Every figure of a performance report, defined once, with its formula.

A report row is one group (an annotator, a reviewer, a task or a day) for one stage of work: `annotate` units or
`review` units. The inputs are sums over the work-event log (apps/workforce WorkEvent) within the report's time
range, attributed to a person as follows:
- heartbeats, submissions and review decisions made on a review unit belong to the event's actor;
- a review decision recorded on an annotate unit (approved / rejected) belongs to that unit's annotator (the unit's
  assignee), not to the reviewer who made it: it is feedback on their work.
Days are UTC calendar days of the event's timestamp.

Inputs (summed per group):
  active_seconds   sum of heartbeat active seconds (time the studio saw the person working; the studio credits at
                   most the time that really passed between two heartbeats).
  wall_seconds     sum of the wall seconds recorded when a lease ends (submitted, skipped, expired, released,
                   approved/rejected on a review unit): lease to end, idle time included.
  rework_seconds   heartbeat active seconds on a unit after that unit's first rejection in the range.
  approvals, rejections   review decisions: on the person's units (annotate) or made by the person (review).
  annotations      annotations created in the unit's own layer by the person (AnnotationRevision rows with action
                   "created" whose layer is the unit: one read of the revision log, reviewer corrections excluded).
  gold_sum, gold_samples  sum and count of GoldScore.score of the person's gold units.
  cost             sum over (task, person) of active_seconds / 3600 x TaskMember.hourly_rate of the person's
                   membership in that role; empty when no membership in the group has a rate.

Derived:
  units_done            units with at least one submission (annotate) or decision made (review) in the range;
                        a unit is counted once per person (per task and day groups: once, on its first day done).
  time_per_item_*       median and 90th percentile (linear interpolation) over the units done of the active
                        seconds spent on each (per person: by that person; per task/day: by everyone).
  items_per_active_hour units_done / (active_seconds / 3600).
  rejection_rate        rejections / (approvals + rejections);  approval_rate = approvals / (approvals + rejections).
  gold_score            gold_sum / gold_samples.
  quality_score         the quality app's score where it provides one (see reports.register_quality_source), else
                        gold_score where there are gold samples, else approval_rate; quality_source says which.
  flags                 "slow" / "fast" when |z| > 2 for time_per_item_median, "low_quality" / "high_quality" when
                        |z| > 2 for quality_score, z over the rows of the report that have the figure.
Every ratio whose denominator is zero is empty (null), never zero.
"""

import numpy as np
import pandas as pd

SUMMED = ["active_seconds", "wall_seconds", "rework_seconds", "submissions", "approvals", "rejections",
          "annotations", "gold_sum", "gold_samples", "cost"]

COLUMNS = ["id", "label", "units_done", "submissions", "annotations", "active_seconds", "wall_seconds",
           "items_per_active_hour", "time_per_item_median", "time_per_item_p90", "approvals", "rejections",
           "rejection_rate", "approval_rate", "rework_seconds", "gold_score", "gold_samples", "quality_score",
           "quality_source", "cost", "currency", "flags"]

Z_LIMIT = 2.0


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    denominator = denominator.astype("float64")
    return (numerator.astype("float64") / denominator.where(denominator > 0)).astype("float64")


def derive(frame: pd.DataFrame, external_quality: dict | None = None) -> pd.DataFrame:
    """Adds the derived figures to a frame of summed inputs (index: the group key)."""
    out = frame.copy()
    out["items_per_active_hour"] = _ratio(out["units_done"], out["active_seconds"] / 3600.0)
    decisions = out["approvals"] + out["rejections"]
    out["rejection_rate"] = _ratio(out["rejections"], decisions)
    out["approval_rate"] = _ratio(out["approvals"], decisions)
    out["gold_score"] = _ratio(out["gold_sum"], out["gold_samples"])
    external = pd.Series(external_quality or {}, dtype="float64").reindex(out.index)
    out["quality_score"] = external.fillna(out["gold_score"]).fillna(out["approval_rate"])
    out["quality_source"] = np.select(
        [external.notna(), out["gold_score"].notna(), out["approval_rate"].notna()],
        ["quality", "gold", "approvals"], default="")
    out["flags"] = _flags(out)
    return out


def _z(series: pd.Series) -> pd.Series:
    present = series.dropna()
    if len(present) < 3 or present.std(ddof=0) == 0:
        return pd.Series(0.0, index=series.index)
    return ((series - present.mean()) / present.std(ddof=0)).fillna(0.0)


def _flags(frame: pd.DataFrame) -> pd.Series:
    speed, quality = _z(frame["time_per_item_median"]), _z(frame["quality_score"])
    flags = []
    for s, q in zip(speed, quality, strict=True):
        row = []
        if s > Z_LIMIT:
            row.append("slow")
        elif s < -Z_LIMIT:
            row.append("fast")
        if q < -Z_LIMIT:
            row.append("low_quality")
        elif q > Z_LIMIT:
            row.append("high_quality")
        flags.append(" ".join(row))
    return pd.Series(flags, index=frame.index, dtype="object")
