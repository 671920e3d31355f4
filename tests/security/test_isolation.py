"""One test that walks every API route as a member of organisation A against organisation B's objects.

Routes come from the URL resolver, so a new route joins automatically; a route whose model has no
entry in OBJECT_MAKERS fails here until someone says how to make one of its objects.
"""

import secrets

import pytest
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.models import ApiToken
from apps.annotations.models import Annotation, AnnotationImportJob, ExportJob, LabelMigrationRun
from apps.automation.models import Model, ModelVersion, Pipeline, PipelineRun
from apps.compliance.models import AuditEvent, DataSubjectRequest, TransferBasis
from apps.compliance.services import audit_record
from apps.core.api.base import OrgApiView
from apps.datasets.models import Dataset, DatasetVersion, ImportJob, Item, SavedFilter
from apps.recipes.models import Recipe, RecipeVersion
from apps.tenancy.models import BreakGlass, Invitation, Membership, Organization
from apps.tenancy.roles import Role
from apps.workforce.models import Task, WorkItem
from tests.factories import MembershipFactory, make_token


def _invitation(org, owner):
    from datetime import timedelta

    from django.utils import timezone

    return Invitation.objects.create(
        organization=org, email="pending@globex.test", role=Role.ANNOTATOR, token_hash=secrets.token_hex(32),
        invited_by=owner.user, expires_at=timezone.now() + timedelta(days=1),
    )


def _dataset(org, owner):
    from tests.datasets.factories import DatasetFactory

    return DatasetFactory(organization=org)


def _item(org, owner):
    from tests.datasets.factories import ItemFactory

    return ItemFactory(dataset=_dataset(org, owner), metadata={"secret": True})


def _import_job(org, owner):
    from apps.datasets.models import ImportJob

    return ImportJob.objects.create(organization=org, dataset=_dataset(org, owner), source=ImportJob.Source.URLS)


def _saved_filter(org, owner):
    from apps.datasets.models import SavedFilter

    return SavedFilter.objects.create(organization=org, dataset=_dataset(org, owner), name="night",
                                      filter={"metadata.time": "night"})


def _dataset_version(org, owner):
    # Withdrawn: the state in which every version route, regenerate included, would act if it skipped the tenant.
    from django.utils import timezone

    return DatasetVersion.objects.create(organization=org, dataset=_dataset(org, owner), number=1,
                                         message="secret cut", created_by=owner.user,
                                         status=DatasetVersion.Status.WITHDRAWN, withdrawn_at=timezone.now(),
                                         withdrawn_reason="It held erased data.")


def _recipe(org, owner):
    from tests.recipes.factories import published_recipe

    return published_recipe(org, owner.user, name=f"Recipe {secrets.token_hex(3)}")[0]


def _recipe_version(org, owner):
    from tests.recipes.factories import published_recipe

    return published_recipe(org, owner.user, name=f"Recipe {secrets.token_hex(3)}")[1]


def _annotation(org, owner):
    from apps.annotations.services import annotations_change
    from tests.datasets.factories import DatasetFactory, ItemFactory
    from tests.recipes.factories import published_recipe

    dataset = DatasetFactory(organization=org)
    published_recipe(org, owner.user, name=f"Recipe {secrets.token_hex(3)}", dataset=dataset)
    item = ItemFactory(dataset=dataset)
    box = {"type": "bbox", "label": "car", "geometry": {"x": 1, "y": 1, "w": 5, "h": 5},
           "attributes": {"colour": "red"}}
    return annotations_change(org=org, actor=owner.user, item=item, create=[box]).created[0]


def _label_migration_run(org, owner):
    from apps.annotations.models import LabelMigrationRun

    recipe, version = published_recipe_for_isolation(org, owner)
    return LabelMigrationRun.objects.create(organization=org, recipe=recipe, to_version=version)


def published_recipe_for_isolation(org, owner):
    from tests.recipes.factories import published_recipe

    return published_recipe(org, owner.user, name=f"Recipe {secrets.token_hex(3)}")


def _export_job(org, owner):
    return ExportJob.objects.create(organization=org, dataset=_dataset(org, owner), format="coco",
                                    created_by=owner.user)


def _annotation_import_job(org, owner):
    return AnnotationImportJob.objects.create(organization=org, dataset=_dataset(org, owner), format="coco",
                                              created_by=owner.user, errors=[{"reference": "x", "message": "secret"}])


def _task(org, owner):
    from apps.workforce.services import task_create
    from tests.datasets.factories import DatasetFactory, ItemFactory

    dataset = DatasetFactory(organization=org)
    _recipe, version = published_recipe_for_isolation(org, owner)
    ItemFactory(dataset=dataset)
    return task_create(org=org, actor=owner.user, dataset=dataset, recipe_version=version,
                       name=f"Task {secrets.token_hex(3)}", members=[{"user_id": owner.user_id, "role": "annotator"}])


def _model(org, owner):
    from apps.automation.services import model_create

    return model_create(org=org, actor=owner.user, name=f"Model {secrets.token_hex(3)}", task_type="classification")


def _model_version(org, owner):
    from tests.automation.factories import TEXT_SPEC, registered_classifier
    from tests.recipes.factories import published_recipe

    _recipe, version = published_recipe(org, owner.user, name=f"Recipe {secrets.token_hex(3)}", spec=TEXT_SPEC)
    return registered_classifier(org, owner.user, recipe_version=version)


def _pipeline(org, owner):
    from apps.automation.pipelines import pipeline_create

    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {}},
                       {"id": "snapshot", "type": "dataset_version", "config": {"message": "Snapshot"}}],
             "edges": [{"from": "start", "to": "snapshot"}]}
    return pipeline_create(org=org, actor=owner.user, name=f"Pipeline {secrets.token_hex(3)}",
                           dataset=_dataset(org, owner), graph=graph)


def _pipeline_run(org, owner):
    from apps.automation.pipeline_engine import pipeline_run_start
    from tests.datasets.factories import ItemFactory

    pipeline = _pipeline(org, owner)
    return pipeline_run_start(org=org, actor=owner.user, pipeline=pipeline,
                              item_ids=[ItemFactory(dataset=pipeline.dataset).pk])


def _gdpr_request(org, owner):
    from apps.compliance.gdpr import gdpr_request_create

    return gdpr_request_create(org=org, actor=owner.user, kind="access", subject_value="secret-patient-7")


def _transfer_basis(org, owner):
    from datetime import timedelta

    from django.utils import timezone

    from apps.compliance.transfers import transfer_basis_record

    return transfer_basis_record(org=org, actor=owner.user, destination_region="us", basis="scc",
                                 reference="secret SCC reference", purpose="secret transfer purpose",
                                 valid_until=timezone.now() + timedelta(days=30))


def _work_item(org, owner):
    from apps.workforce.models import WorkItem

    return WorkItem.objects.get(task=_task(org, owner))


def _break_glass(org, owner):
    from apps.tenancy.services import break_glass_open

    member = MembershipFactory(organization=org, role=Role.ANNOTATOR)
    return break_glass_open(org=org, actor=member.user, reason="Isolation probe: a reason long enough", minutes=30)


OBJECT_MAKERS = {
    Organization: lambda org, owner: org,
    Membership: lambda org, owner: MembershipFactory(organization=org, role=Role.ANNOTATOR),
    Invitation: _invitation,
    ApiToken: lambda org, owner: make_token(owner)[0],
    AuditEvent: lambda org, owner: audit_record(org=org, actor=owner.user, action="test.secret_event"),
    DataSubjectRequest: _gdpr_request,
    TransferBasis: _transfer_basis,
    Dataset: _dataset,
    Item: _item,
    ImportJob: _import_job,
    SavedFilter: _saved_filter,
    DatasetVersion: _dataset_version,
    Recipe: _recipe,
    RecipeVersion: _recipe_version,
    Annotation: _annotation,
    LabelMigrationRun: _label_migration_run,
    Task: _task,
    WorkItem: _work_item,
    ExportJob: _export_job,
    AnnotationImportJob: _annotation_import_job,
    Model: _model,
    ModelVersion: _model_version,
    Pipeline: _pipeline,
    PipelineRun: _pipeline_run,
    BreakGlass: _break_glass,
}


def _api_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", None)
                if view is not None and issubclass(view, OrgApiView):
                    yield prefix + str(p.pattern), view

    return sorted(walk(get_resolver().url_patterns), key=lambda r: r[0])


ROUTES = _api_routes()
DETAIL_CASES = [
    (route, view, method) for route, view in ROUTES if "<int:pk>" in route for method in view.required_scopes
]
# GET routes without an id that answer something other than a list of objects, each with where its isolation is
# proven instead.
NOT_LISTS = {
    "api/v1/audit-events/export/": "a zip of the caller's chain: test_an_export_holds_only_the_callers_events",
    "api/v1/audit-events/signing-key/": "the deployment's public key: the same for every organisation by design",
    "api/v1/processing-register/": "the caller's register: test_the_register_holds_only_the_callers_datasets "
                                   "(tests/compliance/test_console.py)",
    "api/v1/quality/me/": "the caller's own scores: tests/quality/test_scores_api.py::test_own_quality_*",
    "api/v1/residency/": "the caller's residency report: test_the_residency_report_counts_only_the_callers_blobs "
                         "(tests/compliance/test_retention.py)",
}
COLLECTION_ROUTES = [(route, view) for route, view in ROUTES
                     if "<" not in route and "GET" in view.required_scopes and route not in NOT_LISTS]
SPOOFS = {
    "HTTP_X_ORGANIZATION": "globex",
    "HTTP_X_ORG_ID": "{org_b}",
    "HTTP_X_TENANT": "globex",
}


def test_the_walk_finds_the_routes():
    assert {r for r, _ in ROUTES} >= {"api/v1/members/<int:pk>/", "api/v1/tokens/<int:pk>/", "api/v1/organization/"}


@pytest.mark.parametrize("route,view", ROUTES, ids=[r for r, _ in ROUTES])
def test_every_route_model_can_be_made(route, view):
    assert view.model in OBJECT_MAKERS, f"add {view.model.__name__} to OBJECT_MAKERS so {route} is walked"


@pytest.mark.parametrize("route,view,method", DETAIL_CASES, ids=[f"{m} {r}" for r, _, m in DETAIL_CASES])
def test_another_tenants_object_answers_404_and_stays_unchanged(route, view, method, org_a, owner_a, org_b, owner_b,
                                                                api_for):
    foreign = OBJECT_MAKERS[view.model](org_b, owner_b)
    before = model_to_dict(view.model.objects.get(pk=foreign.pk))
    url = "/" + route.replace("<int:pk>", str(foreign.pk))
    body = {"role": Role.OWNER, "name": "pwned", "organization": org_a.pk}

    response = getattr(api_for(owner_a), method.lower())(url, body, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert view.model.objects.filter(pk=foreign.pk).exists()
    assert model_to_dict(view.model.objects.get(pk=foreign.pk)) == before


@pytest.mark.parametrize("route,view", COLLECTION_ROUTES, ids=[r for r, _ in COLLECTION_ROUTES])
def test_collections_never_show_another_tenants_objects(route, view, org_a, owner_a, org_b, owner_b, api_for):
    foreign = OBJECT_MAKERS[view.model](org_b, owner_b)
    own = OBJECT_MAKERS[view.model](org_a, owner_a)
    spoof = {k: v.format(org_b=org_b.pk) for k, v in SPOOFS.items()}

    response = api_for(owner_a).get(f"/{route}?organization={org_b.pk}&org=globex", **spoof)

    assert response.status_code == 200
    body = response.json()
    items = body.get("results", [body])
    ids = {item["id"] for item in items}
    assert own.pk in ids
    assert foreign.pk not in ids


def test_an_export_holds_only_the_callers_events(org_a, owner_a, org_b, owner_b, api_for):
    import io
    import json
    import zipfile
    from datetime import timedelta

    from django.utils import timezone

    foreign = audit_record(org=org_b, actor=owner_b.user, action="test.secret_event")
    own = audit_record(org=org_a, actor=owner_a.user, action="test.own_event")
    now = timezone.now()
    spoof = {k: v.format(org_b=org_b.pk) for k, v in SPOOFS.items()}

    response = api_for(owner_a).get(
        f"/api/v1/audit-events/export/?organization={org_b.pk}&org=globex",
        {"since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}, **spoof,
    )

    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    ids = {link["values"][0] for link in json.loads(bundle.read("events.json"))["links"]}
    assert own.pk in ids and foreign.pk not in ids
    assert json.loads(bundle.read("manifest.json"))["organization"]["id"] == org_a.pk


def test_creating_under_another_tenant_through_body_fields_is_ignored(org_a, owner_a, org_b, api_for):
    response = api_for(owner_a).post(
        "/api/v1/invitations/",
        {"email": "new@acme.test", "role": Role.ANNOTATOR, "organization": org_b.pk, "organization_id": org_b.pk},
        format="json",
        HTTP_X_ORGANIZATION="globex",
    )

    assert response.status_code == 201
    assert Invitation.objects.get(pk=response.json()["id"]).organization_id == org_a.pk
    assert not Invitation.objects.filter(organization=org_b).exists()


def test_patch_cannot_move_a_member_to_another_tenant(org_a, owner_a, org_b, make_member, api_for):
    member = make_member(org_a, Role.ANNOTATOR)

    response = api_for(owner_a).patch(
        f"/api/v1/members/{member.pk}/", {"role": Role.REVIEWER, "organization": org_b.pk}, format="json"
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.organization_id, member.role) == (org_a.pk, Role.REVIEWER)


def test_a_token_only_ever_acts_in_its_own_organisation(org_a, org_b, make_member, api_for):
    from tests.factories import UserFactory

    user = UserFactory()
    in_a = MembershipFactory(organization=org_a, user=user, role=Role.OWNER)
    MembershipFactory(organization=org_b, user=user, role=Role.OWNER)

    response = api_for(in_a).get("/api/v1/organization/", HTTP_X_ORGANIZATION="globex")

    assert response.json()["slug"] == "acme"


def test_denied_cross_tenant_attempts_are_audited_in_the_callers_organisation(org_a, owner_a, org_b, owner_b,
                                                                               api_for):
    foreign = MembershipFactory(organization=org_b)

    api_for(owner_a).delete(f"/api/v1/members/{foreign.pk}/")

    event = AuditEvent.objects.filter(organization=org_a, action="access.denied").get()
    assert (event.actor_user_id, event.target_type, event.target_id) == (
        owner_a.user_id, "tenancy.membership", str(foreign.pk)
    )
    assert not AuditEvent.objects.filter(organization=org_b, action="access.denied").exists()


# Pages are not walked above (the walk covers API routes); the one page that writes a secret is proven here.
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("org_slug", ["acme", "globex"])
def test_another_tenants_pipeline_secret_cannot_be_rotated_from_its_page(method, org_slug, org_a, owner_a, org_b,
                                                                           owner_b, client):
    foreign = _pipeline(org_b, owner_b)
    sealed = bytes(Pipeline.objects.get(pk=foreign.pk).webhook_secret_sealed)
    client.force_login(owner_a.user)

    response = getattr(client, method)(f"/o/{org_slug}/pipelines/{foreign.pk}/webhook-secret/", {"grace_seconds": "0"})

    assert response.status_code == 404
    assert bytes(Pipeline.objects.get(pk=foreign.pk).webhook_secret_sealed) == sealed
    assert Pipeline.objects.get(pk=foreign.pk).webhook_secret_rotated_at is None
    assert not AuditEvent.objects.filter(action="pipeline.webhook_secret_rotated").exists()
