"""The compliance officer's console: searching the log, histories, the access report, the processing register."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.compliance.models import AuditEvent
from apps.compliance.services import audit_record
from apps.core import request_context
from apps.tenancy.roles import Role
from tests.compliance.pages import signed_in
from tests.datasets.factories import DatasetFactory, ItemFactory


def rows(response) -> list[str]:
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<code>([^<]+)</code>", body)


def record_from(ip, **kwargs):
    """An event as a request from this address would write it."""
    token = request_context.activate(request_context.RequestInfo(request_id="r", ip=ip, user_agent="pytest"))
    try:
        return audit_record(**kwargs)
    finally:
        request_context.reset(token)


@pytest.fixture
def reader(org_a, make_member):
    return make_member(org_a, Role.MANAGER, email="reader@acme.test")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [event["id"] for event in response.json()["results"]]


# --- search: API --------------------------------------------------------------------------------------------------

def test_the_api_filters_by_actor_id(org_a, owner_a, officer, reader, api_for):
    mine = audit_record(org=org_a, actor=reader.user, action="test.mine")
    audit_record(org=org_a, actor=owner_a.user, action="test.theirs")

    assert ids(api_for(officer).get("/api/v1/audit-events/", {"actor_id": reader.user_id, "action": "test."})) == [
        mine.pk]


def test_the_api_filters_by_dataset_through_metadata_and_target(org_a, owner_a, officer, dataset, api_for):
    other = DatasetFactory(organization=org_a)
    created = audit_record(org=org_a, actor=owner_a.user, action="dataset.created", target=dataset)
    viewed = audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target_type="datasets.item",
                          target_id="7", metadata={"dataset_id": dataset.pk})
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target_type="datasets.item", target_id="8",
                 metadata={"dataset_id": other.pk})
    audit_record(org=org_a, actor=owner_a.user, action="dataset.created", target=other)

    assert ids(api_for(officer).get("/api/v1/audit-events/", {"dataset_id": dataset.pk})) == [viewed.pk, created.pk]


def test_the_dataset_column_reads_numbers_and_digit_strings_and_ignores_anything_else(org_a, owner_a, dataset):
    as_text = audit_record(org=org_a, actor=owner_a.user, action="item.viewed",
                           metadata={"dataset_id": str(dataset.pk)})
    odd = audit_record(org=org_a, actor=owner_a.user, action="item.viewed", metadata={"dataset_id": "12; drop"})
    nested = audit_record(org=org_a, actor=owner_a.user, action="item.viewed", metadata={"dataset_id": {"id": 1}})

    found = dict(AuditEvent.objects.filter(pk__in=[as_text.pk, odd.pk, nested.pk])
                 .values_list("pk", "metadata_dataset_id"))

    assert found == {as_text.pk: dataset.pk, odd.pk: None, nested.pk: None}


def test_the_api_filters_by_exact_ip_and_by_network(org_a, owner_a, officer, api_for):
    inside = record_from("10.1.2.3", org=org_a, actor=owner_a.user, action="test.inside")
    inside_too = record_from("10.200.0.1", org=org_a, actor=owner_a.user, action="test.inside_too")
    outside = record_from("192.168.0.1", org=org_a, actor=owner_a.user, action="test.outside")
    v6 = record_from("2001:db8::5", org=org_a, actor=owner_a.user, action="test.v6")
    client = api_for(officer)

    assert ids(client.get("/api/v1/audit-events/", {"ip": "10.0.0.0/8"})) == [inside_too.pk, inside.pk]
    assert ids(client.get("/api/v1/audit-events/", {"ip": "192.168.0.1"})) == [outside.pk]
    assert ids(client.get("/api/v1/audit-events/", {"ip": "2001:db8::/32"})) == [v6.pk]


@pytest.mark.parametrize("ip", ["10.0.0.0/33", "not-an-ip", "10.0.0.300", "::g"])
def test_a_bad_ip_or_network_is_a_400_naming_the_field(org_a, officer, api_for, ip):
    response = api_for(officer).get("/api/v1/audit-events/", {"ip": ip})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "ip" in response.json()["errors"]


@pytest.mark.parametrize("params,field", [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-13-01T00:00:00Z"}, "until"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ({"actor_id": "abc"}, "actor_id"),
    ({"dataset_id": "-4"}, "dataset_id"),
    ({"dataset_id": str(2**70)}, "dataset_id"),
])
def test_bad_dates_and_ids_are_a_400_naming_the_field(org_a, officer, api_for, params, field):
    response = api_for(officer).get("/api/v1/audit-events/", params)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_api_filters_by_action_prefix_object_and_time(org_a, owner_a, officer, api_for):
    old = audit_record(org=org_a, actor=owner_a.user, action="member.removed", target_type="tenancy.membership",
                       target_id="5")
    newer = audit_record(org=org_a, actor=owner_a.user, action="member.added", target_type="tenancy.membership",
                         target_id="5")
    audit_record(org=org_a, actor=owner_a.user, action="member.added", target_type="tenancy.membership",
                 target_id="6")
    client = api_for(officer)
    now = timezone.now()

    assert ids(client.get("/api/v1/audit-events/", {"action": "member.", "target_type": "tenancy.membership",
                                                    "target_id": "5"})) == [newer.pk, old.pk]
    assert ids(client.get("/api/v1/audit-events/", {"action": "member.added", "target_type": "tenancy.membership",
                                                    "target_id": "5"})) == [newer.pk]
    assert ids(client.get("/api/v1/audit-events/", {"action": "member.",
                                                    "since": (now + timedelta(minutes=1)).isoformat()})) == []


def test_the_api_never_searches_another_organisations_events(org_a, org_b, owner_b, officer, api_for):
    record_from("10.9.9.9", org=org_b, actor=owner_b.user, action="item.viewed", target_type="datasets.item",
                target_id="1", metadata={"dataset_id": 1})

    client = api_for(officer)

    for params in ({"ip": "10.0.0.0/8"}, {"actor_id": owner_b.user_id}, {"dataset_id": 1},
                   {"target_type": "datasets.item", "target_id": "1"}):
        assert ids(client.get("/api/v1/audit-events/", params)) == []


# --- search: page -------------------------------------------------------------------------------------------------

def test_the_page_filters_by_object_dataset_and_network(org_a, owner_a, officer, dataset):
    record_from("10.0.0.1", org=org_a, actor=owner_a.user, action="item.viewed", target_type="datasets.item",
                target_id="41", metadata={"dataset_id": dataset.pk})
    record_from("172.16.0.1", org=org_a, actor=owner_a.user, action="item.downloaded", target_type="datasets.item",
                target_id="42", metadata={"dataset_id": dataset.pk})
    audit_record(org=org_a, actor=owner_a.user, action="token.created")
    client = signed_in(officer.user)

    by_dataset = client.get("/o/acme/audit/", {"dataset": dataset.pk})
    by_network = client.get("/o/acme/audit/", {"dataset": dataset.pk, "ip": "10.0.0.0/24"})
    by_object = client.get("/o/acme/audit/", {"target_type": "datasets.item", "target_id": "42"})

    assert rows(by_dataset) == ["item.downloaded", "item.viewed"]
    assert rows(by_network) == ["item.viewed"]
    assert rows(by_object) == ["item.downloaded"]
    assert re.search(rf'<option value="{dataset.pk}"[^>]*>Faces</option>', by_dataset.content.decode())


def test_the_page_refuses_a_bad_network_beside_the_field(org_a, officer):
    response = signed_in(officer.user).get("/o/acme/audit/", {"ip": "10.0.0.0/99"})

    assert response.status_code == 400
    assert "neither an IP address nor a network in CIDR form" in response.content.decode()


def test_the_page_refuses_another_organisations_dataset_like_a_missing_one(org_a, org_b, officer):
    foreign = DatasetFactory(organization=org_b, name="Globex secrets")

    response = signed_in(officer.user).get("/o/acme/audit/", {"dataset": foreign.pk})
    missing = signed_in(officer.user).get("/o/acme/audit/", {"dataset": 987654})

    assert response.status_code == missing.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "Globex secrets" not in response.content.decode()


def test_log_rows_link_to_the_person_and_the_object(org_a, owner_a, officer):
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target_type="datasets.item", target_id="41",
                 target_label="cat.jpg")

    page = signed_in(officer.user).get("/o/acme/audit/").content.decode()

    assert f'href="/o/acme/audit/people/{owner_a.user_id}/"' in page
    assert 'href="/o/acme/audit/objects/datasets.item/41/"' in page


# --- histories ----------------------------------------------------------------------------------------------------

def test_who_saw_an_item_includes_the_listings_that_showed_it(org_a, owner_a, officer, reader, dataset):
    item = ItemFactory(dataset=dataset, name="face-1.jpg")
    audit_record(org=org_a, actor=reader.user, action="item.viewed", target=item,
                 metadata={"dataset_id": dataset.pk})
    audit_record(org=org_a, actor=owner_a.user, action="items.listed", target=dataset,
                 metadata={"item_ids": [item.pk, item.pk + 1000]})
    audit_record(org=org_a, actor=owner_a.user, action="items.listed", target=dataset,
                 metadata={"item_ids": [item.pk + 1000]})
    audit_record(org=org_a, actor=owner_a.user, action="item.viewed", target_type="datasets.item",
                 target_id=str(item.pk + 1000), metadata={"dataset_id": dataset.pk})

    response = signed_in(officer.user).get(f"/o/acme/audit/objects/datasets.item/{item.pk}/")

    assert response.status_code == 200
    assert rows(response) == ["items.listed", "item.viewed"]
    assert "History of face-1.jpg" in response.content.decode()


def test_what_a_person_touched_shows_only_their_events_in_this_organisation(org_a, org_b, officer, reader,
                                                                              make_member):
    make_member(org_b, Role.OWNER)
    audit_record(org=org_a, actor=reader.user, action="dataset.created", target_label="mine")
    audit_record(org=org_b, actor=reader.user, action="secret.elsewhere")  # the same person, another organisation
    audit_record(org=org_a, actor=officer.user, action="token.created")

    response = signed_in(officer.user).get(f"/o/acme/audit/people/{reader.user_id}/")

    assert response.status_code == 200
    assert rows(response) == ["dataset.created"]
    assert "What reader@acme.test did" in response.content.decode()
    assert "secret.elsewhere" not in response.content.decode()


def test_a_stranger_person_page_shows_nothing_and_no_email(org_a, org_b, officer, owner_b):
    audit_record(org=org_b, actor=owner_b.user, action="secret.elsewhere")

    response = signed_in(officer.user).get(f"/o/acme/audit/people/{owner_b.user_id}/")

    assert response.status_code == 200
    assert owner_b.user.email not in response.content.decode()
    assert "No events match" in response.content.decode()


def test_a_former_member_keeps_their_history_under_their_last_label(org_a, officer, reader):
    audit_record(org=org_a, actor=reader.user, action="dataset.created")
    reader.delete()

    response = signed_in(officer.user).get(f"/o/acme/audit/people/{reader.user_id}/")

    assert rows(response) == ["dataset.created"]
    assert "What reader@acme.test did" in response.content.decode()


def test_another_organisations_object_history_is_empty_and_its_pages_404(org_a, org_b, owner_b, officer):
    audit_record(org=org_b, actor=owner_b.user, action="item.viewed", target_type="datasets.item", target_id="9",
                 target_label="globex-secret.jpg")
    client = signed_in(officer.user)

    own_page = client.get("/o/acme/audit/objects/datasets.item/9/")
    foreign_page = client.get("/o/globex/audit/objects/datasets.item/9/")

    assert own_page.status_code == 200 and "globex-secret" not in own_page.content.decode()
    assert "No events match" in own_page.content.decode()
    assert foreign_page.status_code == 404
    assert client.get(f"/o/globex/audit/people/{owner_b.user_id}/").status_code == 404


@pytest.mark.parametrize("path", [
    "/o/acme/audit/objects/datasets.item/1/", "/o/acme/audit/people/1/", "/o/acme/audit/access-report/",
    "/o/acme/audit/processing-register/",
])
def test_console_pages_need_audit_view(org_a, make_member, path):
    manager = make_member(org_a, Role.MANAGER)

    assert signed_in(manager.user).get(path).status_code == 403


def test_markup_in_names_is_escaped_on_the_console_pages(org_a, officer, make_member):
    hostile = make_member(org_a, Role.MANAGER, email="x@acme.test")
    dataset = DatasetFactory(organization=org_a, name="<script>alert(1)</script>",
                             purpose="<img src=x onerror=alert(2)>")
    audit_record(org=org_a, actor=hostile.user, action="item.viewed", target_type="datasets.item", target_id="3",
                 target_label="<b>bold</b>", actor_label="<i>eve</i>", metadata={"dataset_id": dataset.pk})
    client = signed_in(officer.user)
    today = timezone.now().date().isoformat()

    pages = [
        client.get("/o/acme/audit/"),
        client.get("/o/acme/audit/objects/datasets.item/3/"),
        client.get(f"/o/acme/audit/people/{hostile.user_id}/"),
        client.get("/o/acme/audit/access-report/", {"dataset": dataset.pk, "since": today, "until": today}),
        client.get("/o/acme/audit/processing-register/"),
    ]

    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200
        assert "<script>alert(1)" not in body and "<b>bold</b>" not in body and "<i>eve</i>" not in body
        assert "<img src=x" not in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in pages[1].content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[4].content.decode()


# --- access report ------------------------------------------------------------------------------------------------

@pytest.fixture
def reads(org_a, owner_a, reader, dataset, monkeypatch):
    """Two people reading the dataset over two days, and reads that are not about it."""
    other = DatasetFactory(organization=org_a)
    yesterday = timezone.now() - timedelta(days=1)

    def read(actor, action, target_id, when=None, dataset_id=dataset.pk):
        with monkeypatch.context() as patch:
            if when is not None:  # written as a request of that day would have written it
                patch.setattr(AuditEvent._meta.get_field("occurred_at"), "_get_default", lambda: when)
            return audit_record(org=org_a, actor=actor, action=action, target_type="datasets.item",
                                target_id=str(target_id), metadata={"dataset_id": dataset_id})

    read(reader.user, "item.viewed", 1, when=yesterday)
    read(reader.user, "item.viewed", 1, when=yesterday)
    read(reader.user, "item.viewed", 2, when=yesterday)
    read(reader.user, "item.viewed", 3)
    read(reader.user, "item.downloaded", 3)
    read(owner_a.user, "item.viewed", 4)
    read(owner_a.user, "item.viewed", 5, dataset_id=other.pk)  # another dataset
    read(owner_a.user, "item.updated", 4)  # a change, not a read
    audit_record(org=org_a, actor=owner_a.user, action="items.listed", target=dataset,
                 metadata={"item_ids": [1, 2, 3]})
    return yesterday.date(), timezone.now().date()


def test_the_access_report_counts_reads_per_day_and_person(org_a, owner_a, officer, dataset, reads):
    yesterday, today = reads

    response = signed_in(officer.user).get("/o/acme/audit/access-report/", {
        "dataset": dataset.pk, "since": yesterday.isoformat(), "until": today.isoformat()})

    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", row).split() for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    assert response.status_code == 200
    owner = owner_a.user.email
    assert sorted(c[:5] for c in cells) == sorted([
        [yesterday.isoformat(), "reader@acme.test", "item.viewed", "3", "2"],
        [today.isoformat(), owner, "item.viewed", "1", "1"],
        [today.isoformat(), owner, "items.listed", "1", "1"],
        [today.isoformat(), "reader@acme.test", "item.downloaded", "1", "1"],
        [today.isoformat(), "reader@acme.test", "item.viewed", "1", "1"],
    ])
    assert cells[0][0] == yesterday.isoformat()
    assert "7 reads by 2 people." in response.content.decode()


def test_the_access_report_period_excludes_other_days(org_a, officer, dataset, reads):
    yesterday, _today = reads

    response = signed_in(officer.user).get("/o/acme/audit/access-report/", {
        "dataset": dataset.pk, "since": yesterday.isoformat(), "until": yesterday.isoformat()})

    assert "3 reads by 1 person." in response.content.decode()


def test_the_access_report_csv_is_formula_safe_and_its_download_audited(org_a, officer, dataset, reads, make_member):
    evil = make_member(org_a, Role.MANAGER, email="evil@acme.test")
    audit_record(org=org_a, actor=evil.user, action="item.viewed", target_type="datasets.item", target_id="1",
                 actor_label="=HYPERLINK(\"http://x\")", metadata={"dataset_id": dataset.pk})
    yesterday, today = reads

    response = signed_in(officer.user).get("/o/acme/audit/access-report/", {
        "dataset": dataset.pk, "since": yesterday.isoformat(), "until": today.isoformat(), "format": "csv"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == ["day", "person", "user_id", "action", "events", "distinct_objects", "last_at"]
    assert len(table) == 1 + 6
    assert ["'=HYPERLINK(\"http://x\")", "item.viewed", "1"] in [[r[1], r[3], r[4]] for r in table[1:]]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in table[1:] for cell in row)
    downloaded = AuditEvent.objects.get(organization=org_a, action="report.downloaded")
    assert downloaded.actor_user_id == officer.user_id and downloaded.target_id == str(dataset.pk)
    assert downloaded.metadata["report"] == "dataset_access" and downloaded.metadata["rows"] == 6


def test_the_access_report_refuses_a_bad_period_and_a_foreign_dataset(org_a, org_b, officer, dataset):
    foreign = DatasetFactory(organization=org_b)
    client = signed_in(officer.user)

    inverted = client.get("/o/acme/audit/access-report/", {
        "dataset": dataset.pk, "since": "2026-02-01", "until": "2026-01-01"})
    not_a_date = client.get("/o/acme/audit/access-report/", {
        "dataset": dataset.pk, "since": "last week", "until": "2026-01-01"})
    other_tenant = client.get("/o/acme/audit/access-report/", {
        "dataset": foreign.pk, "since": "2026-01-01", "until": "2026-01-02", "format": "csv"})

    assert inverted.status_code == not_a_date.status_code == other_tenant.status_code == 400
    assert "The end date is before the start date." in inverted.content.decode()
    assert "Enter a valid date." in not_a_date.content.decode()
    assert "Select a valid choice" in other_tenant.content.decode()
    assert not AuditEvent.objects.filter(action="report.downloaded").exists()
