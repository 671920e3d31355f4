"""The workforce pages as the server renders them: My work, the task list, the wizard, the task board and its
actions, the studio in queue mode, and the work log as CSV."""

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.compliance.models import AuditEvent
from apps.core.spreadsheets import csv_cell
from apps.tenancy.roles import Role
from apps.workforce.models import ReviewComment, Task, TaskMember, WorkItem
from apps.workforce.services import task_create
from apps.workforce.unit_services import review_decide, task_next, work_item_skip, work_item_submit
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.recipes.factories import published_recipe

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def studio_data(response) -> dict:
    match = re.search(r'<script id="studio-data" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert match, "the studio data is missing"
    return json.loads(match.group(1))


def pull(membership, task, stage="annotate") -> WorkItem:
    unit, _resumed = task_next(org=task.organization, actor=membership.user, task=task, stage=stage)
    assert unit is not None
    return WorkItem.objects.get(pk=unit.pk)


def render(unit):
    return {"id": unit.pk}


def png(name="street.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (70, 80, 90)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def manager(org_a, make_member):
    return make_member(org_a, Role.MANAGER, email="mona.manager@example.test")


@pytest.fixture
def annotator(org_a, make_member):
    return make_member(org_a, Role.ANNOTATOR, email="ann.annotator@example.test")


@pytest.fixture
def reviewer(org_a, make_member):
    return make_member(org_a, Role.REVIEWER, email="rita.reviewer@example.test")


@pytest.fixture
def dataset(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a, name="Streets")
    published_recipe(org_a, owner_a.user, dataset=dataset)
    return dataset


@pytest.fixture
def make_task(org_a, owner_a, dataset, annotator, reviewer):
    def make(name="Street boxes", n_items=3, **settings):
        for i in range(n_items):
            ItemFactory(dataset=dataset, name=f"img-{i:03d}.jpg")
        version = published_version(dataset)
        members = [{"user_id": annotator.user_id, "role": "annotator"},
                   {"user_id": reviewer.user_id, "role": "reviewer"}]
        return task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=version, name=name,
                           members=members, **settings)

    return make


def published_version(dataset):
    from apps.recipes.selectors import dataset_recipe_version

    return dataset_recipe_version(org=dataset.organization, dataset=dataset)


# --- Who sees which page ---------------------------------------------------------------------------------------

def test_my_work_lists_the_callers_tasks_with_start_buttons(make_task, annotator, reviewer):
    task = make_task()

    mine = signed_in(annotator).get("/o/acme/work/")
    theirs = signed_in(reviewer).get("/o/acme/work/")

    assert mine.status_code == 200
    assert f'href="/o/acme/tasks/{task.pk}/work/"' in mine.content.decode()
    assert f"/o/acme/tasks/{task.pk}/review/" not in mine.content.decode()
    assert f'href="/o/acme/tasks/{task.pk}/review/"' in theirs.content.decode()


def test_my_work_says_continue_while_the_caller_holds_a_unit(make_task, annotator):
    task = make_task()
    pull(annotator, task)

    page = signed_in(annotator).get("/o/acme/work/").content.decode()

    assert re.search(rf'href="/o/acme/tasks/{task.pk}/work/">Continue', page)


def test_someone_in_no_task_sees_an_empty_my_work(make_task, org_a, make_member):
    make_task()
    outsider = make_member(org_a, Role.ANNOTATOR)

    page = signed_in(outsider).get("/o/acme/work/").content.decode()

    assert 'id="no-tasks"' in page


@pytest.mark.parametrize("path", ["/o/acme/tasks/", "/o/acme/tasks/new/"])
def test_manager_pages_refuse_the_workforce(path, annotator, reviewer):
    assert signed_in(annotator).get(path).status_code == 403
    assert signed_in(reviewer).get(path).status_code == 403


def test_the_task_list_and_board_render_for_a_manager(make_task, manager):
    task = make_task()

    listing = signed_in(manager).get("/o/acme/tasks/")
    board = signed_in(manager).get(f"/o/acme/tasks/{task.pk}/")

    assert listing.status_code == 200 and f'href="/o/acme/tasks/{task.pk}/"' in listing.content.decode()
    assert board.status_code == 200
    assert '<td data-count="annotate-queued">3</td>' in board.content.decode()


def test_the_board_is_not_found_for_the_workforce(make_task, annotator):
    task = make_task()

    assert signed_in(annotator).get(f"/o/acme/tasks/{task.pk}/").status_code == 404


def test_another_organisations_task_is_not_found(make_task, owner_b):
    task = make_task()
    client = signed_in(owner_b)

    for path in ["", "work/", "review/", "work-log.csv", "board/live/"]:
        assert client.get(f"/o/globex/tasks/{task.pk}/{path}").status_code == 404
        assert client.get(f"/o/acme/tasks/{task.pk}/{path}").status_code == 404


def test_an_annotator_who_is_not_a_member_gets_404_on_the_work_page(make_task, org_a, make_member):
    task = make_task()
    stranger = make_member(org_a, Role.ANNOTATOR)

    assert signed_in(stranger).get(f"/o/acme/tasks/{task.pk}/work/").status_code == 404


def test_the_work_page_needs_the_annotator_role_and_the_review_page_the_reviewer_role(make_task, annotator,
                                                                                       reviewer):
    task = make_task()

    assert signed_in(annotator).get(f"/o/acme/tasks/{task.pk}/review/").status_code == 404
    assert signed_in(reviewer).get(f"/o/acme/tasks/{task.pk}/work/").status_code == 404
    assert signed_in(reviewer).get(f"/o/acme/tasks/{task.pk}/review/").status_code == 200


def test_the_work_page_is_the_studio_in_queue_mode(make_task, annotator):
    task = make_task()

    response = signed_in(annotator).get(f"/o/acme/tasks/{task.pk}/work/")

    assert response.status_code == 200
    data = studio_data(response)
    assert data["item"] is None and data["can_edit"] is True
    assert data["recipe_version"]["id"] == task.recipe_version_id
    assert data["queue"]["stage"] == "annotate" and data["queue"]["task_id"] == task.pk
    assert data["queue"]["urls"]["next"] == f"/api/v1/tasks/{task.pk}/next/"
    assert data["queue"]["urls"]["submit"] == "/api/v1/work-items/{id}/submit/"
    assert data["queue"]["urls"]["unit"] == "/api/v1/work-items/{id}/"
    assert data["queue"]["urls"]["content"] == "/api/v1/items/{id}/content/"
    assert 'id="queue-submit"' in response.content.decode()


# --- Escaping ----------------------------------------------------------------------------------------------------

def test_a_task_name_with_markup_is_escaped_on_every_page(make_task, manager, annotator):
    task = make_task(name=HOSTILE)
    TaskMember.objects.create(organization=task.organization, task=task, user=manager.user, role="annotator")

    pages = [signed_in(manager).get(path) for path in
             ["/o/acme/tasks/", f"/o/acme/tasks/{task.pk}/", "/o/acme/work/", f"/o/acme/tasks/{task.pk}/work/"]]
    pages.append(signed_in(annotator).get("/o/acme/work/"))

    for page in pages:
        assert page.status_code == 200
        assert HOSTILE not in page.content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content.decode()


# --- My history ------------------------------------------------------------------------------------------------

def test_my_history_shows_a_rejection_with_its_comments(make_task, annotator, reviewer, org_a):
    task = make_task(n_items=1, review_ratio=1)
    unit = pull(annotator, task)
    work_item_submit(org=org_a, actor=annotator.user, unit=unit, render=render)
    review = pull(reviewer, task, stage="review")
    review_decide(org=org_a, actor=reviewer.user, unit=review, approve=False,
                  comments=[{"text": "The <b>box</b> is loose"}], render=render)

    page = signed_in(annotator).get("/o/acme/work/").content.decode()

    history = page[page.index('id="history"'):]
    assert re.search(r"Rejected</span>\s*<span class=\"history-item\">img-000.jpg", history)
    assert "Submitted" in history
    assert "The &lt;b&gt;box&lt;/b&gt; is loose" in history


# --- The wizard --------------------------------------------------------------------------------------------------

def test_the_wizard_creates_a_task_with_its_members(dataset, manager, annotator, reviewer):
    for i in range(4):
        ItemFactory(dataset=dataset, name=f"img-{i}.jpg", metadata={"camera": "A" if i % 2 else "B"})

    response = signed_in(manager).post("/o/acme/tasks/new/", {
        "name": "Camera A", "dataset": dataset.pk, "recipe_version": "", "query": '{"metadata.camera": "A"}',
        "distribution": "pull", "consensus": 1, "review_ratio": 0.5, "honeypot_rate": 0, "priority": 3,
        f"member-{annotator.user_id}-annotator": "1", f"member-{annotator.user_id}-weight": "2",
        f"member-{reviewer.user_id}-reviewer": "1", f"member-{reviewer.user_id}-weight": "1",
    })

    task = Task.objects.get(name="Camera A")
    assert response.status_code == 302 and response["Location"] == f"/o/acme/tasks/{task.pk}/"
    assert task.recipe_version_id == published_version(dataset).pk and task.review_ratio == 0.5
    assert WorkItem.objects.filter(task=task).count() == 2
    assert sorted(TaskMember.objects.filter(task=task).values_list("user_id", "role", "weight")) == sorted([
        (annotator.user_id, "annotator", 2.0), (reviewer.user_id, "reviewer", 1.0)])


def test_the_wizard_says_what_is_wrong_with_a_query(dataset, manager):
    response = signed_in(manager).post("/o/acme/tasks/new/", {
        "name": "Bad", "dataset": dataset.pk, "query": '{"metadata.camera": {"$nope": 1}}', "distribution": "pull",
        "consensus": 1, "review_ratio": 0, "honeypot_rate": 0, "priority": 0})

    assert response.status_code == 400
    assert "$nope" in response.content.decode()
    assert not Task.objects.filter(name="Bad").exists()


def test_the_wizard_lists_only_the_organisations_datasets(dataset, manager, org_b):
    DatasetFactory(organization=org_b, name="Foreign photos")

    page = signed_in(manager).get("/o/acme/tasks/new/").content.decode()

    assert "Streets" in page and "Foreign photos" not in page


# --- Board actions -----------------------------------------------------------------------------------------------

def test_a_manager_pauses_and_resumes_the_task(make_task, manager):
    task = make_task()
    client = signed_in(manager)

    client.post(f"/o/acme/tasks/{task.pk}/status/", {"status": "paused"})
    assert Task.objects.get(pk=task.pk).status == "paused"
    client.post(f"/o/acme/tasks/{task.pk}/status/", {"status": "active"})
    assert Task.objects.get(pk=task.pk).status == "active"


def test_a_manager_reassigns_a_held_unit_back_to_the_queue(make_task, manager, annotator):
    task = make_task()
    unit = pull(annotator, task)

    response = signed_in(manager).post(f"/o/acme/tasks/{task.pk}/units/{unit.pk}/reassign/", {"user_id": ""})

    assert response.status_code == 302
    unit.refresh_from_db()
    assert (unit.state, unit.assignee_id) == ("queued", None)


def test_a_manager_adds_and_removes_a_member(make_task, manager, org_a, make_member):
    task = make_task()
    newcomer = make_member(org_a, Role.ANNOTATOR)
    client = signed_in(manager)

    client.post(f"/o/acme/tasks/{task.pk}/members/add/", {"user_id": newcomer.user_id, "role": "annotator",
                                                          "weight": "1.5"})
    assert TaskMember.objects.get(task=task, user=newcomer.user).weight == 1.5
    client.post(f"/o/acme/tasks/{task.pk}/members/{newcomer.user_id}/remove/")
    assert TaskMember.objects.get(task=task, user=newcomer.user).status == "removed"


def test_the_workforce_cannot_use_the_board_actions(make_task, annotator):
    task = make_task()

    response = signed_in(annotator).post(f"/o/acme/tasks/{task.pk}/status/", {"status": "paused"})

    assert response.status_code == 404
    assert Task.objects.get(pk=task.pk).status == "active"


def test_the_board_tables_count_each_members_work(make_task, manager, annotator, reviewer, org_a):
    task = make_task(review_ratio=1)
    unit = pull(annotator, task)
    work_item_submit(org=org_a, actor=annotator.user, unit=unit, render=render)
    review = pull(reviewer, task, stage="review")
    review_decide(org=org_a, actor=reviewer.user, unit=review, approve=True, render=render)
    pull(annotator, task)

    html = signed_in(manager).get(f"/o/acme/tasks/{task.pk}/board/live/").content.decode()

    def stats(user_id):
        row = re.search(rf'<tr data-user-id="{user_id}".*?</tr>', html, re.S).group(0)
        return {k: v.strip() for k, v in re.findall(r'data-stat="(\w+)">([^<]*)', row)}

    assert stats(annotator.user_id) | {"active": ""} == {"leased": "1", "to_fix": "0", "submitted": "1",
                                                          "approved": "1", "rejected": "0", "reviewed": "0",
                                                          "active": ""}
    assert stats(reviewer.user_id)["reviewed"] == "1"


# --- The work log ------------------------------------------------------------------------------------------------

def test_the_work_log_is_formula_safe_csv_and_its_export_is_audited(dataset, org_a, owner_a, manager, annotator):
    ItemFactory(dataset=dataset, name="=HYPERLINK(\"http://evil.test\")")
    task = task_create(org=org_a, actor=owner_a.user, dataset=dataset, recipe_version=published_version(dataset),
                       name="Formulas", members=[{"user_id": annotator.user_id, "role": "annotator"}])
    unit = pull(annotator, task)
    work_item_skip(org=org_a, actor=annotator.user, unit=unit, reason="@SUM(A1:A9)")

    response = signed_in(manager).get(f"/o/acme/tasks/{task.pk}/work-log.csv")

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["kind"] for row in rows] == ["leased", "skipped"]
    assert {row["item_name"] for row in rows} == {"'=HYPERLINK(\"http://evil.test\")"}
    assert json.loads(rows[1]["data"]) == {"reason": "@SUM(A1:A9)"}
    assert rows[1]["actor"] == annotator.user.email
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    event = AuditEvent.objects.get(action="task.worklog_exported")
    assert (event.actor_user_id, event.target_id) == (manager.user_id, str(task.pk))


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_starts_like_a_formula_gets_an_apostrophe(prefix):
    assert csv_cell(f"{prefix}1+2") == f"'{prefix}1+2"
    assert csv_cell(f"a{prefix}") == f"a{prefix}"


def test_the_workforce_cannot_export_the_work_log(make_task, annotator):
    task = make_task()

    assert signed_in(annotator).get(f"/o/acme/tasks/{task.pk}/work-log.csv").status_code == 404
    assert not AuditEvent.objects.filter(action="task.worklog_exported").exists()


def test_review_comments_are_not_shown_to_someone_else_in_my_history(make_task, annotator, reviewer, org_a,
                                                                      make_member):
    task = make_task(n_items=1, review_ratio=1)
    unit = pull(annotator, task)
    work_item_submit(org=org_a, actor=annotator.user, unit=unit, render=render)
    review = pull(reviewer, task, stage="review")
    review_decide(org=org_a, actor=reviewer.user, unit=review, approve=False,
                  comments=[{"text": "Private remark"}], render=render)
    other = make_member(org_a, Role.ANNOTATOR)

    assert "Private remark" not in signed_in(other).get("/o/acme/work/").content.decode()
    assert ReviewComment.objects.count() == 1


def test_a_manager_marks_a_gold_item_and_a_foreign_id_is_refused_in_words(make_task, manager, org_a, owner_a,
                                                                          org_b):
    from apps.annotations.services import annotations_change
    from apps.workforce.models import GoldItem

    task = make_task(n_items=1)
    item = WorkItem.objects.get(task=task).item
    annotations_change(org=org_a, actor=owner_a.user, item=item, create=[
        {"type": "bbox", "label": "truck", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5}}])
    foreign = ItemFactory(dataset=DatasetFactory(organization=org_b))
    client = signed_in(manager)

    marked = client.post(f"/o/acme/tasks/{task.pk}/gold/", {"item_id": item.pk}, follow=True)
    refused = client.post(f"/o/acme/tasks/{task.pk}/gold/", {"item_id": foreign.pk}, follow=True)

    assert GoldItem.objects.filter(task=task, item=item).exists()
    assert f"{item.name} is a gold item of this task now." in marked.content.decode()
    assert f"there is no item {foreign.pk} you can see" in refused.content.decode()
    assert GoldItem.objects.count() == 1
