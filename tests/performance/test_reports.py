"""Report numbers against the hand-computed work log of conftest.py.

Percentiles are linear interpolation: p90 of [30, 120, 300] sits at position 0.9 x 2 = 1.8, so 120 + 0.8 x 180.
"""

import pytest

from apps.performance.reports import ReportQuery, compute
from apps.performance.services import report_rows

from .factories import D1, D2, make_task


def rows_by_label(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {row["label"]: row for row in response.json()["results"]}


@pytest.fixture
def manager(owner_a, api_for):
    return api_for(owner_a)


def test_annotator_figures_match_the_hand_computed_log(worked_task, manager):
    rows = rows_by_label(manager, f"/api/v1/tasks/{worked_task.pk}/performance/?group=annotator")

    ann = rows["Ann Able"]
    assert (ann["units_done"], ann["submissions"], ann["annotations"]) == (3, 4, 3)
    assert (ann["active_seconds"], ann["wall_seconds"], ann["rework_seconds"]) == (450, 730, 20)
    assert ann["items_per_active_hour"] == pytest.approx(24.0)
    assert ann["time_per_item_median"] == pytest.approx(120.0)
    assert ann["time_per_item_p90"] == pytest.approx(120 + 0.8 * 180)
    assert (ann["approvals"], ann["rejections"]) == (2, 1)
    assert ann["rejection_rate"] == pytest.approx(1 / 3)
    assert ann["approval_rate"] == pytest.approx(2 / 3)
    assert (ann["gold_score"], ann["gold_samples"]) == (pytest.approx(0.8), 1)
    # The quality app's score (apps/quality/scores.py): the log's one gold sample (its decisions are work events, not
    # review rounds).
    assert (ann["quality_score"], ann["quality_source"]) == (pytest.approx(0.8), "quality")
    assert (ann["cost"], ann["currency"]) == (pytest.approx(450 / 3600 * 30), "EUR")


def test_a_rejected_unit_that_was_not_reworked_and_a_skipped_one(worked_task, manager):
    ben = rows_by_label(manager, f"/api/v1/tasks/{worked_task.pk}/performance/")["Ben Bell"]

    assert (ben["units_done"], ben["active_seconds"], ben["wall_seconds"], ben["rework_seconds"]) == (1, 180, 250, 0)
    assert ben["items_per_active_hour"] == pytest.approx(20.0)
    assert (ben["time_per_item_median"], ben["time_per_item_p90"]) == (100, 100)
    assert ben["rejection_rate"] == 1.0
    assert (ben["quality_score"], ben["quality_source"]) == (0.0, "approvals")
    assert (ben["cost"], ben["currency"]) == (None, "")


def test_a_member_with_no_events_shows_empty_figures_not_zero_ratios(worked_task, manager):
    cy = rows_by_label(manager, f"/api/v1/tasks/{worked_task.pk}/performance/")["Cy Cole"]

    assert (cy["units_done"], cy["active_seconds"], cy["annotations"]) == (0, 0, 0)
    assert (cy["items_per_active_hour"], cy["time_per_item_median"], cy["rejection_rate"]) == (None, None, None)
    assert (cy["quality_score"], cy["quality_source"]) == (None, "")
    assert (cy["cost"], cy["currency"]) == (0.0, "EUR")


def test_reviewer_figures_count_the_decisions_they_made(worked_task, manager):
    rae = rows_by_label(manager, f"/api/v1/tasks/{worked_task.pk}/performance/?group=reviewer")["Rae Reed"]

    assert (rae["units_done"], rae["active_seconds"], rae["wall_seconds"]) == (3, 60, 85)
    assert (rae["approvals"], rae["rejections"]) == (1, 2)
    assert rae["rejection_rate"] == pytest.approx(2 / 3)
    assert rae["items_per_active_hour"] == pytest.approx(180.0)
    assert (rae["time_per_item_median"], rae["time_per_item_p90"]) == (20, pytest.approx(28.0))


def test_day_figures_count_each_unit_on_the_day_it_was_first_done(worked_task, manager):
    rows = rows_by_label(manager, f"/api/v1/tasks/{worked_task.pk}/performance/?group=day")

    assert list(rows) == [D1, D2]
    d1, d2 = rows[D1], rows[D2]
    assert (d1["units_done"], d1["active_seconds"], d1["wall_seconds"]) == (3, 230, 420)
    assert (d1["time_per_item_median"], d1["time_per_item_p90"]) == (100, pytest.approx(116.0))
    assert d1["rejection_rate"] == pytest.approx(2 / 3)
    assert (d2["units_done"], d2["active_seconds"], d2["rework_seconds"], d2["time_per_item_median"]) == (
        1, 400, 20, 300)
    assert d2["items_per_active_hour"] == pytest.approx(9.0)


def test_task_figures_and_progress(worked_task, manager):
    body = manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/?group=task").json()

    [row] = body["results"]
    assert (row["id"], row["label"], row["units_done"], row["active_seconds"]) == (
        worked_task.pk, "Street scenes", 4, 630)
    assert (row["time_per_item_median"], row["time_per_item_p90"]) == (110, pytest.approx(246.0))
    assert row["rejection_rate"] == 0.5
    assert body["task"]["units_total"] == 5


def test_a_date_range_keeps_only_its_days(worked_task, manager):
    url = f"/api/v1/tasks/{worked_task.pk}/performance/?group=annotator&from={D1}&to={D1}"

    ann = rows_by_label(manager, url)["Ann Able"]

    assert (ann["units_done"], ann["active_seconds"], ann["rework_seconds"], ann["annotations"]) == (2, 130, 0, 2)


def test_an_empty_task_lists_its_members_with_nothing_done(org_a, owner_a, people, manager):
    task = make_task(org_a, owner_a, people, name="Empty")

    rows = rows_by_label(manager, f"/api/v1/tasks/{task.pk}/performance/")
    days = manager.get(f"/api/v1/tasks/{task.pk}/performance/?group=day").json()["results"]

    assert set(rows) == {"Ann Able", "Ben Bell", "Cy Cole"}
    assert all(row["units_done"] == 0 and row["items_per_active_hour"] is None for row in rows.values())
    assert days == []


def test_the_organisation_report_lists_every_task(worked_task, org_a, owner_a, people, manager):
    empty = make_task(org_a, owner_a, people, name="Empty")

    rows = rows_by_label(manager, "/api/v1/performance/")

    assert (rows["Street scenes"]["units_done"], rows["Empty"]["units_done"]) == (4, 0)
    assert rows["Empty"]["id"] == empty.pk


def test_reading_in_small_chunks_gives_the_same_report(worked_task, org_a):
    for group in ("annotator", "reviewer", "day", "task"):
        query = ReportQuery(group=group, task_id=worked_task.pk)
        whole = compute(org_id=org_a.pk, query=query)
        chunked = compute(org_id=org_a.pk, query=query, chunk_rows=1)

        assert whole.drop(columns="flags").equals(chunked.drop(columns="flags")), group


def test_the_quality_apps_score_wins_where_it_gives_one(worked_task, org_a, people, monkeypatch):
    from apps.performance import reports

    monkeypatch.setattr(reports, "_quality_sources", [])
    reports.register_quality_source(lambda *, org_id, task_id, user_ids: {people["B"].user_id: 0.42})

    rows = {r["label"]: r for r in report_rows(org=org_a, query=ReportQuery(task_id=worked_task.pk))}

    assert (rows["Ben Bell"]["quality_score"], rows["Ben Bell"]["quality_source"]) == (0.42, "quality")
    assert rows["Ann Able"]["quality_source"] == "gold"


def test_an_outlier_is_flagged(org_a, owner_a, people):
    import pandas as pd

    from apps.performance.figures import derive

    frame = pd.DataFrame({
        "units_done": [10] * 8, "active_seconds": [3600.0] * 8, "approvals": [9] * 8, "rejections": [1] * 8,
        "gold_sum": [0.0] * 8, "gold_samples": [0] * 8,
        "time_per_item_median": [30.0, 31, 29, 30, 32, 28, 30, 300],
    })

    flags = derive(frame)["flags"].tolist()

    assert flags[-1] == "slow"
    assert flags[:-1] == [""] * 7


def test_the_json_report_carries_units_done_per_day_for_sparklines(worked_task, people, manager):
    body = manager.get(f"/api/v1/tasks/{worked_task.pk}/performance/").json()

    assert body["series"][str(people["A"].user_id)] == {D1: 2, D2: 1}
    assert body["series"][str(people["B"].user_id)] == {D1: 1}
    assert str(people["C"].user_id) not in body["series"]
