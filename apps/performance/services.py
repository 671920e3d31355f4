"""Building a report for a caller, and downloading it (every download is audited as report.downloaded).

Scopes: a task's report and the organisation-wide report need task.view (managers); a person's own scorecard
needs task.work and is always restricted to the caller (the person filter is the caller, never a parameter).
The JSON form, which the dashboards re-read live, is not audited; files (CSV, XLSX, Parquet) are.
"""

import math

from apps.compliance.services import audit_record
from apps.tenancy.permissions import require_scope

from . import reports, selectors
from .downloads import FORMATS, WRITERS
from .figures import COLUMNS


def _plain(value):
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value


def _expected_keys(*, org_id: int, query: reports.ReportQuery) -> list:
    if query.group in reports.PERSON_GROUPS:
        return selectors.member_ids(org_id=org_id, task_id=query.task_id, stage=query.effective_stage,
                                    person_id=query.person_id)
    if query.group == "task":
        return selectors.task_ids(org_id=org_id, task_id=query.task_id, member_id=query.person_id,
                                  stage=query.effective_stage)
    return []


def report_rows(*, org, query: reports.ReportQuery, series: dict | None = None) -> list[dict]:
    """The report's rows (figures.COLUMNS), ordered by label (by day for the day group). `series`, when given, is
    filled with the units done per row id and day."""
    table = reports.compute(org_id=org.pk, query=query, expected_keys=_expected_keys(org_id=org.pk, query=query))
    if series is not None:
        series.update({str(key): days for key, days in table.attrs.get("series", {}).items()})
    if query.group in reports.PERSON_GROUPS:
        labels = selectors.person_labels(ids=table.index)
    elif query.group == "task":
        labels = selectors.task_labels(org_id=org.pk, ids=table.index)
    else:
        labels = {key: key for key in table.index}
    table["id"] = table.index
    table["label"] = [labels.get(key, f"#{key}") for key in table.index]
    table = table.sort_values("id" if query.group == "day" else ["label", "id"])
    return [{column: _plain(value) for column, value in zip(COLUMNS, values, strict=True)}
            for values in table[COLUMNS].itertuples(index=False, name=None)]


def report_get(*, org, actor, query: reports.ReportQuery, task=None, own: bool = False) -> dict:
    """The JSON report. `own`: the caller's scorecard (query.person_id is the caller)."""
    require_scope(org=org, actor=actor, scope="task.work" if own else "task.view", obj=task)
    body = {"group": query.group, "stage": query.effective_stage,
            "from": query.start.isoformat() if query.start else None,
            "to": query.end.isoformat() if query.end else None,
            "columns": COLUMNS}
    series: dict = {}
    body["results"] = report_rows(org=org, query=query, series=series)
    body["series"] = series  # {row id: {day: units done}}
    body["rejection_reasons"] = {str(key): counts for key, counts in selectors.rejection_reasons(
        org_id=org.pk, group=query.group, stage=query.effective_stage, task_id=query.task_id,
        person_id=query.person_id, start_at=query.start_at, end_at=query.end_at).items()}  # {row id: {reason: n}}
    if task is not None:
        body["task"] = {"id": task.pk, "name": task.name, **selectors.task_progress(task=task)}
    return body


def report_download(*, org, actor, query: reports.ReportQuery, fmt: str, task=None,
                    own: bool = False) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the report in a file format; records report.downloaded."""
    require_scope(org=org, actor=actor, scope="task.work" if own else "task.view", obj=task)
    rows = report_rows(org=org, query=query)
    content = WRITERS[fmt](rows)
    content_type, extension = FORMATS[fmt]
    scope_name = f"task-{task.pk}" if task is not None else ("me" if own else "organisation")
    filename = f"performance-{scope_name}-{query.group}.{extension}"
    audit_record(org=org, actor=actor, action="report.downloaded", target=task,
                 target_type="" if task is not None else "performance.report",
                 metadata={"format": fmt, "group": query.group, "stage": query.effective_stage,
                           "from": query.start.isoformat() if query.start else None,
                           "to": query.end.isoformat() if query.end else None, "rows": len(rows), "own": own})
    return content, content_type, filename


def member_rate_set(*, org, actor, task, user_id: int, role: str, hourly_rate, currency: str):
    """Sets (or clears, with hourly_rate None) what a member of the task is paid per active hour."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    require_scope(org=org, actor=actor, scope="task.manage", obj=task)
    with transaction.atomic():
        member = selectors.task_member_for_update(org_id=org.pk, task=task, user_id=user_id, role=role)
        if member is None:
            raise ValidationError({"user_id": "This person is not a member of the task in that role."})
        before = {"hourly_rate": None if member.hourly_rate is None else str(member.hourly_rate),
                  "currency": member.currency}
        member.hourly_rate = hourly_rate
        member.currency = currency.upper() if hourly_rate is not None else ""
        member.save(update_fields=["hourly_rate", "currency"])
        audit_record(org=org, actor=actor, action="task_member.rate_changed", target=member, before=before,
                     after={"hourly_rate": None if hourly_rate is None else str(hourly_rate),
                            "currency": member.currency},
                     metadata={"task_id": task.pk, "user_id": user_id, "role": role})
    return member
