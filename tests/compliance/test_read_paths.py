"""Every route that returns an item's content, thumbnail or record, or lists items, leaves an audit event naming
what was read; a compliance officer (who reads the log, never the data) gets 404 on each, and the refusal is audited.

The routes (the sweep of issue 8; downloads that need a worker to build the file first are tested where they live):
  GET  /api/v1/items/<id>/                    item.viewed (via api)          apps/datasets/api/views.py ItemDetailApi
  GET  /api/v1/items/<id>/content/            item.viewed                    ItemContentApi
  GET  /api/v1/items/<id>/content/?download=1 item.downloaded                ItemContentApi
  GET  /api/v1/items/<id>/thumbnail/          item.viewed (via thumbnail)    ItemThumbnailApi (personal/health data)
  POST /api/v1/datasets/<id>/items/query/     items.listed (item_ids)        ItemQueryApi (personal/health data)
  GET  /o/<org>/datasets/<id>/                items.listed (item_ids)        datasets.views.dataset_browser
  GET  /o/<org>/items/<id>/                   item.viewed (via item page)    datasets.views.item_detail
  GET  /o/<org>/items/<id>/annotate/          item.viewed (via studio)       annotations.views.studio
  GET  /api/v1/items/<id>/annotations/[history/], /api/v1/annotations/<id>/[history/]
                                              annotations.viewed             apps/annotations/api/views.py
                                                                             (personal/health data)
  A unit's payload (/api/v1/work-items/<id>/, tasks/<id>/next/) names its item but carries no content: the studio
  then reads the content (item.viewed with the unit as grant: tests/workforce/test_item_content.py) and annotations.
  elsewhere: export.created / export.downloaded (tests/annotations), dataset_version.downloaded (tests/datasets/
  test_versions.py), report.downloaded (tests/compliance/test_console.py, tests/performance/test_api.py),
  task.worklog_exported (tests/workforce).
"""

import pytest
from django.test import Client

from apps.compliance.models import AuditEvent
from apps.datasets import intake
from apps.datasets.tasks import make_item_thumbnail
from apps.tenancy.roles import Role
from tests.datasets.conftest import png_bytes, region_roots, upload  # noqa: F401  (region_roots: autouse fixture)
from tests.datasets.factories import DatasetFactory

# (name, API or page, method, path, expected action, expected "via" or None)
READ_ROUTES = [
    ("item record", "api", "get", "/api/v1/items/{item}/", "item.viewed", "api"),
    ("item content", "api", "get", "/api/v1/items/{item}/content/", "item.viewed", None),
    ("item download", "api", "get", "/api/v1/items/{item}/content/?download=1", "item.downloaded", None),
    ("thumbnail", "api", "get", "/api/v1/items/{item}/thumbnail/", "item.viewed", "thumbnail"),
    ("query", "api", "post", "/api/v1/datasets/{dataset}/items/query/", "items.listed", None),
    ("browser page", "page", "get", "/o/acme/datasets/{dataset}/", "items.listed", None),
    ("item page", "page", "get", "/o/acme/items/{item}/", "item.viewed", "item page"),
    ("studio", "page", "get", "/o/acme/items/{item}/annotate/", "item.viewed", "studio"),
    ("annotations", "api", "get", "/api/v1/items/{item}/annotations/", "annotations.viewed", "annotations"),
    ("annotation history", "api", "get", "/api/v1/items/{item}/annotations/history/", "annotations.viewed",
     "annotation history"),
]


@pytest.fixture
def health_item(org_a, owner_a):
    dataset = DatasetFactory(organization=org_a, name="Scans", classification="health")
    [item] = intake.items_upload(org=org_a, actor=owner_a.user, dataset=dataset,
                                 files=[upload("scan-1.png", png_bytes(600, 400))])
    make_item_thumbnail.fn(org_a.pk, item.pk)
    return item


def call(client, method, path):
    if method == "post":
        return client.post(path, {"filter": {}}, format="json") if hasattr(client, "credentials") \
            else client.post(path, "{}", content_type="application/json")
    return client.get(path)


def client_for(kind, membership, api_for):
    if kind == "api":
        return api_for(membership)
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.mark.parametrize(("name", "kind", "method", "path", "action", "via"), READ_ROUTES,
                         ids=[r[0] for r in READ_ROUTES])
def test_a_read_route_records_what_was_read(name, kind, method, path, action, via, org_a, make_member, health_item,
                                            api_for):
    reader = make_member(org_a, Role.MANAGER)
    before = AuditEvent.objects.filter(action=action).count()

    response = call(client_for(kind, reader, api_for), method,
                    path.format(item=health_item.pk, dataset=health_item.dataset_id))

    assert response.status_code == 200, response.content[:300]
    event = AuditEvent.objects.filter(action=action, actor_user_id=reader.user_id).order_by("-id").first()
    assert AuditEvent.objects.filter(action=action).count() > before and event is not None
    if action == "items.listed":
        assert health_item.pk in event.metadata["item_ids"] and event.target_id == str(health_item.dataset_id)
    else:
        assert event.target_id == str(health_item.pk) and event.metadata["dataset_id"] == health_item.dataset_id
        assert event.metadata.get("via") == via


@pytest.mark.parametrize(("name", "kind", "method", "path", "action", "via"), READ_ROUTES,
                         ids=[r[0] for r in READ_ROUTES])
def test_a_compliance_officer_gets_404_on_a_read_route_and_the_refusal_is_audited(
        name, kind, method, path, action, via, org_a, make_member, health_item, api_for):
    officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

    response = call(client_for(kind, officer, api_for), method,
                    path.format(item=health_item.pk, dataset=health_item.dataset_id))

    assert response.status_code == 404
    assert b"scan-1.png" not in response.content
    assert not AuditEvent.objects.filter(actor_user_id=officer.user_id, action=action).exists()
    assert AuditEvent.objects.filter(actor_user_id=officer.user_id, action="access.denied").exists()
