"""Downloads of the compliance officer's console, each of them recorded as report.downloaded (a report about who
read personal data is itself personal data)."""

import csv
import io
from datetime import datetime

from django.db import transaction

from apps.core.spreadsheets import csv_cell
from apps.tenancy.permissions import require_scope

from .console import dataset_access_report
from .services import audit_record

ACCESS_REPORT_COLUMNS = ("day", "person", "user_id", "action", "events", "distinct_objects", "last_at")


def access_report_csv(*, org, actor, dataset, since: datetime, until: datetime) -> tuple[bytes, str]:
    """(CSV bytes, file name) of a dataset's access report over [since, until); formula-safe cells; audited."""
    require_scope(org=org, actor=actor, scope="audit.view")
    rows = dataset_access_report(org=org, dataset_id=dataset.pk, since=since, until=until)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ACCESS_REPORT_COLUMNS)
    for row in rows:
        writer.writerow([csv_cell(value) for value in (
            row.day.isoformat(), row.person, row.user_id, row.action, row.events, row.objects, row.last_at)])
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="report.downloaded", target=dataset,
                     metadata={"report": "dataset_access", "format": "csv", "dataset_id": dataset.pk,
                               "from": since.isoformat(), "to": until.isoformat(), "rows": len(rows)})
    filename = f"access-report-dataset-{dataset.pk}-{since:%Y%m%d}-{until:%Y%m%d}.csv"
    return out.getvalue().encode("utf-8"), filename
