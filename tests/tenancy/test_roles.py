"""The role-to-scope matrix, proven through the API: for every scope and every role, the call that
needs the scope succeeds exactly when the matrix says so. A scope without a probe fails here."""

from datetime import UTC, datetime, timedelta

import pytest
from guardian.shortcuts import assign_perm, remove_perm

from apps.automation.pipelines import pipeline_create
from apps.tenancy.roles import GRANTABLE_ROLES, SCOPES, Role
from apps.workforce.services import task_create
from tests.datasets.factories import DatasetFactory, ItemFactory
from tests.factories import make_token
from tests.recipes.factories import published_recipe

# scope -> (method, url template, body); {target} is an annotator, {token} another member's token.
PROBES = {
    "org.view": ("get", "/api/v1/organization/", None),
    "org.manage": ("patch", "/api/v1/organization/", {"idle_logoff_minutes": 30}),
    "member.view": ("get", "/api/v1/members/", None),
    "member.invite": ("post", "/api/v1/invitations/", {"email": "new@acme.test", "role": Role.ANNOTATOR}),
    "member.change_role": ("patch", "/api/v1/members/{target}/", {"role": Role.REVIEWER}),
    "member.remove": ("delete", "/api/v1/members/{target}/", None),
    "token.manage_own": ("post", "/api/v1/tokens/", {"name": "ci"}),
    "token.manage_all": ("delete", "/api/v1/tokens/{token}/", None),
    "audit.view": ("get", "/api/v1/audit-events/", None),
    "gdpr.manage": ("get", "/api/v1/gdpr-requests/", None),
    "transfer.manage": ("post", "/api/v1/transfer-bases/",
                        {"destination_region": "us", "basis": "scc", "reference": "SCC 2021/914 module 2",
                         "purpose": "Training cluster in the US office reads exports",
                         "valid_until": (datetime.now(UTC) + timedelta(days=90)).isoformat()}),
    "dataset.view": ("get", "/api/v1/datasets/{dataset}/", None),
    "dataset.create": ("post", "/api/v1/datasets/", {"name": "New"}),
    "dataset.manage": ("patch", "/api/v1/datasets/{dataset}/", {"description": "Changed"}),
    "item.view": ("post", "/api/v1/datasets/{dataset}/items/query/", {}),
    "item.change": ("patch", "/api/v1/items/{item}/", {"metadata": {"checked": True}}),
    "dataset.version": ("post", "/api/v1/datasets/{dataset}/versions/", {"message": "First cut"}),
    "recipe.view": ("get", "/api/v1/recipes/{recipe}/", None),
    "recipe.manage": ("patch", "/api/v1/recipes/{recipe}/", {"description": "Changed"}),
    "annotation.view": ("get", "/api/v1/items/{item}/annotations/", None),
    "annotation.change": ("post", "/api/v1/items/{item}/annotations/",
                          {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
                           "attributes": {"colour": "red"}}),
    "task.view": ("get", "/api/v1/tasks/", None),
    "task.manage": ("patch", "/api/v1/tasks/{task}/", {"status": "paused"}),
    "task.work": ("post", "/api/v1/tasks/{task}/next/", {}),
    "annotation.export": ("post", "/api/v1/datasets/{dataset}/exports/", {"format": "coco"}),
    "model.view": ("get", "/api/v1/models/", None),
    "model.manage": ("post", "/api/v1/models/", {"name": "Probe model", "task_type": "detection"}),
}
CASES = [(scope, role) for scope in SCOPES for role in Role]


def test_every_scope_has_a_probe():
    assert set(PROBES) == set(SCOPES)


@pytest.mark.parametrize("scope,role", CASES, ids=[f"{s}-{r.value}" for s, r in CASES])
def test_role_matrix_decides_the_api(scope, role, org_a, owner_a, make_member, api_for):
    caller = make_member(org_a, role)
    target = make_member(org_a, Role.ANNOTATOR)
    other_token, _ = make_token(target)
    item = ItemFactory(dataset=DatasetFactory(organization=org_a))
    recipe, version = published_recipe(org_a, owner_a.user, dataset=item.dataset)
    task = task_create(org=org_a, actor=owner_a.user, dataset=item.dataset, recipe_version=version, name="Probe",
                       members=[{"user_id": caller.user_id, "role": "annotator"}])
    method, url, body = PROBES[scope]
    url = url.format(target=target.pk, token=other_token.pk, dataset=item.dataset_id, item=item.pk, recipe=recipe.pk,
                     task=task.pk)

    response = getattr(api_for(caller), method)(url, body, format="json")

    if role in SCOPES[scope]:
        assert response.status_code in (200, 201, 202, 204), response.content
    else:
        assert response.status_code in (403, 404), response.content


# Routes whose object must be in a given state before the scope decides, each probed like PROBES:
# scope -> (method, url template, body, make the object in the state the call needs).
def _withdrawn_version(org, dataset):
    from django.utils import timezone

    from apps.datasets.models import DatasetVersion

    return DatasetVersion.objects.create(organization=org, dataset=dataset, number=1, message="First cut",
                                         status=DatasetVersion.Status.WITHDRAWN, withdrawn_at=timezone.now(),
                                         withdrawn_reason="It held erased data.")


STATE_PROBES = {
    "dataset.version": ("post", "/api/v1/dataset-versions/{obj}/regenerate/", {}, _withdrawn_version),
}
STATE_CASES = [(scope, role) for scope in STATE_PROBES for role in Role]


@pytest.mark.parametrize("scope,role", STATE_CASES, ids=[f"{s}-{r.value}" for s, r in STATE_CASES])
def test_role_matrix_decides_the_api_on_objects_in_state(scope, role, org_a, make_member, api_for):
    caller = make_member(org_a, role)
    method, url, body, make = STATE_PROBES[scope]
    target = make(org_a, DatasetFactory(organization=org_a))

    response = getattr(api_for(caller), method)(url.format(obj=target.pk), body, format="json")

    if role in SCOPES[scope]:
        assert response.status_code in (200, 201, 202, 204), response.content
    else:
        assert response.status_code in (403, 404), response.content


def test_guardian_grant_gives_one_person_audit_access_and_revocation_is_immediate(org_a, owner_a, make_member,
                                                                                  api_for):
    annotator = make_member(org_a, Role.ANNOTATOR)
    client = api_for(annotator)
    assert client.get("/api/v1/audit-events/").status_code == 403

    assign_perm("tenancy.view_audit_log", annotator.user, org_a)
    assert client.get("/api/v1/audit-events/").status_code == 200

    remove_perm("tenancy.view_audit_log", annotator.user, org_a)
    assert client.get("/api/v1/audit-events/").status_code == 403


def test_a_grant_on_one_organisation_does_not_reach_another(org_a, org_b, make_member, api_for):
    from tests.factories import MembershipFactory

    annotator_a = make_member(org_a, Role.ANNOTATOR)
    annotator_b = MembershipFactory(organization=org_b, user=annotator_a.user, role=Role.ANNOTATOR)
    assign_perm("tenancy.view_audit_log", annotator_a.user, org_a)

    assert api_for(annotator_b).get("/api/v1/audit-events/").status_code == 403


@pytest.mark.parametrize("granter", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_nobody_invites_above_what_their_role_may_grant(granter, role, org_a, owner_a, make_member, api_for):
    caller = owner_a if granter == Role.OWNER else make_member(org_a, granter)

    response = api_for(caller).post("/api/v1/invitations/", {"email": "x@acme.test", "role": role}, format="json")

    allowed = role in GRANTABLE_ROLES[granter] and granter in SCOPES["member.invite"]
    assert response.status_code == (201 if allowed else 403), response.content


# Pages that a scope opens (scope -> url template); every other role is refused (403, or 404 where the object is
# hidden), as the API is above.
PAGE_PROBES = {
    "audit.view": "/o/acme/audit/",
    "gdpr.manage": "/o/acme/compliance/gdpr/",
    "org.view": "/o/acme/break-glass/",
    "dataset.view": "/o/acme/datasets/{dataset}/settings/",
    "model.manage": "/o/acme/pipelines/{pipeline}/webhook-secret/",
}
PAGE_CASES = [(scope, role) for scope in PAGE_PROBES for role in Role]
PROBE_GRAPH = {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                         {"id": "notify", "type": "webhook", "config": {"url": "https://hooks.example.com/in"}}],
               "edges": [{"from": "start", "to": "notify"}]}


@pytest.mark.parametrize("scope,role", PAGE_CASES, ids=[f"{s}-{r.value}" for s, r in PAGE_CASES])
def test_role_matrix_decides_the_pages(scope, role, org_a, owner_a, make_member, client):
    caller = make_member(org_a, role)
    dataset = DatasetFactory(organization=org_a)
    pipeline = pipeline_create(org=org_a, actor=owner_a.user, name="Probe", dataset=dataset, graph=PROBE_GRAPH)
    client.force_login(caller.user)

    response = client.get(PAGE_PROBES[scope].format(dataset=dataset.pk, pipeline=pipeline.pk))

    assert response.status_code == (200 if role in SCOPES[scope] else 403 if "{" not in PAGE_PROBES[scope] else 404)
