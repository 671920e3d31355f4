"""Downloads (CSV, XLSX, Parquet), parameter errors, who may read which report, and the audit of downloads."""

import csv
import io
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from apps.workforce.models import Task, TaskMember

from .factories import D1


@pytest.fixture
def manager(owner_a, api_for):
    return api_for(owner_a)


@pytest.fixture
def hostile_task(worked_task, people):
    Task.objects.filter(pk=worked_task.pk).update(name='=HYPERLINK("http://evil.test","x")')
    user = people["B"].user
    user.full_name = "@SUM(1+1)*cmd|' /C calc'!A0"
    user.save(update_fields=["full_name"])
    return worked_task


def test_csv_is_formula_safe_and_audited(hostile_task, manager, org_a, owner_a):
    response = manager.get(f"/api/v1/tasks/{hostile_task.pk}/performance/?format=csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    labels = {row["label"] for row in rows}
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in labels
    assert next(row for row in rows if row["label"] == "Ann Able")["units_done"] == "3"
    event = AuditEvent.objects.get(organization=org_a, action="report.downloaded")
    assert (event.actor_user_id, event.target_id, event.metadata["format"]) == (
        owner_a.user_id, str(hostile_task.pk), "csv")


def test_csv_of_the_task_group_neutralises_the_task_name(hostile_task, manager):
    response = manager.get(f"/api/v1/tasks/{hostile_task.pk}/performance/?format=csv&group=task")

    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["label"] == '\'=HYPERLINK("http://evil.test","x")'


def test_xlsx_opens_with_numbers_as_numbers_and_no_formulas(hostile_task, manager):
    response = manager.get(f"/api/v1/tasks/{hostile_task.pk}/performance/?format=xlsx&group=task")

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["label"].value == '\'=HYPERLINK("http://evil.test","x")'
    assert row["label"].data_type == "s"
    assert row["units_done"].value == 4
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


def test_parquet_reads_back(worked_task, manager):
    response = manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/?format=parquet&group=day")

    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert [(row["id"], row["units_done"], row["active_seconds"]) for row in table] == [
        (D1, 3, 230.0), ("2026-03-03", 1, 400.0)]


def test_json_reads_are_not_audited(worked_task, manager, org_a):
    manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/")

    assert not AuditEvent.objects.filter(organization=org_a, action="report.downloaded").exists()


@pytest.mark.parametrize("query,field", [
    ("group=everyone", "group"),
    ("format=pdf", "format"),
    ("stage=qa", "stage"),
    ("from=yesterday", "from"),
    ("from=2026-03-05&to=2026-03-01", "to"),
])
def test_bad_parameters_answer_400_naming_the_field(worked_task, manager, query, field):
    response = manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_the_own_card_has_no_groups_of_other_people(worked_task, people, api_for):
    response = api_for(people["A"]).get("/api/v1/performance/me/?group=annotator")

    assert response.status_code == 400
    assert "group" in response.json()["errors"]


def test_an_annotator_sees_only_their_own_card(worked_task, people, api_for):
    client = api_for(people["B"])

    by_task = client.get("/api/v1/performance/me/").json()["results"]
    by_day = client.get("/api/v1/performance/me/?group=day").json()["results"]

    assert [(r["id"], r["units_done"], r["active_seconds"]) for r in by_task] == [(worked_task.pk, 1, 180)]
    assert [(r["label"], r["active_seconds"]) for r in by_day] == [(D1, 100), ("2026-03-03", 80)]


def test_an_annotator_cannot_read_the_team_reports(worked_task, people, api_for):
    client = api_for(people["A"])

    assert client.get(f"/api/v1/tasks/{worked_task.pk}/performance/").status_code in (403, 404)
    assert client.get("/api/v1/performance/").status_code == 403
    assert client.get("/api/v1/performance/?format=csv").status_code == 403


def test_a_compliance_officer_has_no_scorecard(org_a, make_member, api_for):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

    assert api_for(officer).get("/api/v1/performance/me/").status_code == 403


def test_another_tenants_task_report_is_a_404(worked_task, org_b, owner_b, api_for):
    response = api_for(owner_b).get(f"/api/v1/tasks/{worked_task.pk}/performance/?format=csv")

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="report.downloaded").exists()


def test_another_tenants_work_never_shows_in_the_organisation_report(worked_task, org_b, owner_b, api_for):
    body = api_for(owner_b).get("/api/v1/performance/?group=annotator").json()

    assert body["results"] == []


def test_a_manager_sets_a_rate_and_the_cost_follows(worked_task, people, manager, org_a):
    url = f"/api/v1/tasks/{worked_task.pk}/rates/"

    response = manager.post(url, {"user_id": people["B"].user_id, "role": "annotator", "hourly_rate": "36.00",
                                  "currency": "eur"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["currency"] == "EUR"
    ben = next(r for r in manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/").json()["results"]
               if r["label"] == "Ben Bell")
    assert (ben["cost"], ben["currency"]) == (pytest.approx(180 / 3600 * 36), "EUR")
    event = AuditEvent.objects.get(organization=org_a, action="task_member.rate_changed")
    assert (event.before["hourly_rate"], event.after["hourly_rate"]) == (None, "36.00")


@pytest.mark.parametrize("body,field", [
    ({"role": "annotator", "hourly_rate": "10"}, "currency"),
    ({"role": "annotator", "hourly_rate": "-1", "currency": "EUR"}, "hourly_rate"),
    ({"role": "annotator", "hourly_rate": "10", "currency": "=1+1"}, "currency"),
    ({"role": "reviewer", "hourly_rate": "10", "currency": "EUR"}, "user_id"),
])
def test_bad_rates_answer_400_naming_the_field(worked_task, people, manager, body, field):
    response = manager.post(f"/api/v1/tasks/{worked_task.pk}/rates/", {"user_id": people["B"].user_id, **body},
                            format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_an_annotator_cannot_set_rates(worked_task, people, api_for):
    response = api_for(people["A"]).post(f"/api/v1/tasks/{worked_task.pk}/rates/", {
        "user_id": people["A"].user_id, "role": "annotator", "hourly_rate": "99", "currency": "EUR"}, format="json")

    assert response.status_code in (403, 404)
    assert Decimal("30.00") == TaskMember.objects.get(task=worked_task, user=people["A"].user).hourly_rate
