"""The webhook secret on the pipeline's page: the builder says, per webhook node, whether the secret is set and when
it was last rotated (never the secret); "Rotate secret" asks first, then rotates through the API's service (same
scope, same audit event) and shows the new secret that once, with its grace period in words."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.automation.models import Pipeline
from apps.automation.pipelines import pipeline_create
from apps.automation.webhook_secrets import pipeline_webhook_secret_rotate, webhook_signing_secrets
from apps.compliance.models import AuditEvent
from apps.storage.models import OrgKey
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def signed_in(membership, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(membership.user)
    return client


def webhook_graph():
    return {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                      {"id": "notify", "type": "webhook", "config": {"url": "https://hooks.example.com/dlsaas"}},
                      {"id": "audit-copy", "type": "webhook", "config": {"url": "https://audit.example.com/in"}}],
            "edges": [{"from": "start", "to": "notify"}, {"from": "start", "to": "audit-copy"}]}


@pytest.fixture
def pipeline(org_a, owner_a):
    return pipeline_create(org=org_a, actor=owner_a.user, name=f"Notify {HOSTILE}",
                           dataset=DatasetFactory(organization=org_a), graph=webhook_graph())


def builder(membership, pipeline):
    return signed_in(membership).get(f"/o/acme/pipelines/{pipeline.pk}/")


def rotate_url(pipeline, org_slug="acme"):
    return f"/o/{org_slug}/pipelines/{pipeline.pk}/webhook-secret/"


def shown_secret(response) -> str:
    return re.search(r'id="new-secret" class="copy-field" type="text" readonly value="([^"]*)"',
                     response.content.decode()).group(1)


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


# --- The builder ---------------------------------------------------------------------------------------------------


def test_the_builder_lists_each_webhook_node_with_its_secret_set_and_never_rotated(owner_a, pipeline):
    response = builder(owner_a, pipeline)

    body = response.content.decode()
    rows = re.findall(r'<tr data-node="([^"]+)">\s*<th scope="row">[^<]+</th>\s*<td><code>([^<]+)</code></td>\s*'
                      r"<td>([^<]+)</td>\s*<td>([^<]+)</td>", body)
    assert rows == [("notify", "https://hooks.example.com/dlsaas", "Set", "Never: made with the pipeline"),
                    ("audit-copy", "https://audit.example.com/in", "Set", "Never: made with the pipeline")]
    assert pipeline.webhook_secret_shown not in body
    assert f'href="{rotate_url(pipeline)}"' in body and ">Rotate secret</a>" in body


def test_after_a_rotation_the_builder_says_when_and_until_when_the_old_secret_signs(org_a, owner_a, pipeline):
    pipeline_webhook_secret_rotate(org=org_a, actor=owner_a.user, pipeline=pipeline, grace_seconds=3600)
    pipeline.refresh_from_db()

    response = builder(owner_a, pipeline)

    body = text(response)
    rotated = pipeline.webhook_secret_rotated_at.strftime("%Y-%m-%d %H:%M")
    until = pipeline.webhook_secret_previous_until.strftime("%Y-%m-%d %H:%M")
    assert f"Set {rotated} (UTC)" in body
    assert f"The previous secret still signs beside it until {until} (UTC)." in body
    assert all(secret not in response.content.decode() for secret in webhook_signing_secrets(pipeline))


def test_a_pipeline_without_a_secret_says_its_deliveries_fail_until_rotated(owner_a, pipeline):
    Pipeline.objects.filter(pk=pipeline.pk).update(webhook_secret_sealed=b"")

    response = builder(owner_a, pipeline)

    assert "Not set: its deliveries fail until the secret is rotated" in response.content.decode()


def test_a_pipeline_without_webhook_nodes_still_says_whether_its_secret_is_set(org_a, owner_a):
    graph = {"nodes": [{"id": "start", "type": "trigger", "config": {"kind": "manual"}},
                       {"id": "snapshot", "type": "dataset_version", "config": {"message": "Snap"}}],
             "edges": [{"from": "start", "to": "snapshot"}]}
    plain = pipeline_create(org=org_a, actor=owner_a.user, name="Plain", dataset=DatasetFactory(organization=org_a),
                            graph=graph)

    response = builder(owner_a, plain)

    assert "The saved pipeline has no webhook node. Once it has one, it signs with the pipeline's secret, which is " \
           "set (made with the pipeline, never rotated)." in text(response)


# --- Rotating ------------------------------------------------------------------------------------------------------


def test_the_rotate_page_asks_first_and_changes_nothing(owner_a, pipeline):
    sealed = bytes(pipeline.webhook_secret_sealed)

    response = signed_in(owner_a).get(rotate_url(pipeline))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Rotate the webhook secret of Notify &lt;script&gt;alert(1)&lt;/script&gt;?" in body and HOSTILE not in body
    assert '<option value="86400" selected>24 hours (the default)</option>' in body
    assert "csrfmiddlewaretoken" in body and ">Rotate secret</button>" in body
    assert bytes(Pipeline.objects.get(pk=pipeline.pk).webhook_secret_sealed) == sealed
    assert not AuditEvent.objects.filter(action="pipeline.webhook_secret_rotated").exists()


def test_rotating_shows_the_new_secret_once_with_its_grace_period_and_audits_it(owner_a, pipeline):
    old = pipeline.webhook_secret_shown

    response = signed_in(owner_a).post(rotate_url(pipeline), {"grace_seconds": "3600"})

    pipeline.refresh_from_db()
    new = shown_secret(response)
    until = pipeline.webhook_secret_previous_until
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert webhook_signing_secrets(pipeline) == [new, old]
    assert until - pipeline.webhook_secret_rotated_at == timedelta(hours=1)
    assert f"The old secret keeps signing beside it for 1 hour, until {until:%Y-%m-%d %H:%M} (UTC)" in text(response)
    event = AuditEvent.objects.get(action="pipeline.webhook_secret_rotated")
    assert (event.actor_user_id, event.target_id) == (owner_a.user_id, str(pipeline.pk))
    assert event.metadata["grace_seconds"] == 3600 and new not in str(event.metadata)


def test_the_new_secret_is_never_shown_again(owner_a, pipeline):
    client = signed_in(owner_a)
    new = shown_secret(client.post(rotate_url(pipeline), {"grace_seconds": "0"}))

    later = [client.get(rotate_url(pipeline)), client.get(f"/o/acme/pipelines/{pipeline.pk}/"),
             client.get(f"/api/v1/pipelines/{pipeline.pk}/")]

    assert [new in r.content.decode() for r in later] == [False, False, False]


def test_without_a_grace_period_the_old_secret_stops_signing_at_once(owner_a, pipeline):
    response = signed_in(owner_a).post(rotate_url(pipeline), {"grace_seconds": "0"})

    pipeline.refresh_from_db()
    assert webhook_signing_secrets(pipeline) == [shown_secret(response)]
    assert "The old secret stopped signing now" in text(response)


def test_a_grace_period_not_offered_is_refused_beside_the_field_and_nothing_changes(owner_a, pipeline):
    sealed = bytes(pipeline.webhook_secret_sealed)

    response = signed_in(owner_a).post(rotate_url(pipeline), {"grace_seconds": str(30 * 24 * 3600)})

    assert response.status_code == 400
    assert re.search(r'class="field field-has-error".*Select a valid choice', response.content.decode(), re.S)
    assert 'id="new-secret"' not in response.content.decode()
    assert bytes(Pipeline.objects.get(pk=pipeline.pk).webhook_secret_sealed) == sealed


def test_an_organisation_key_that_is_gone_is_said_in_words_and_nothing_changes(org_a, owner_a, pipeline):
    sealed = bytes(pipeline.webhook_secret_sealed)
    OrgKey.objects.filter(organization=org_a).update(destroyed_at=timezone.now())

    response = signed_in(owner_a).post(rotate_url(pipeline), {"grace_seconds": "0"})

    assert response.status_code == 409
    assert "The organisation&#x27;s key cannot be used, so no new secret was made" in response.content.decode()
    assert bytes(Pipeline.objects.get(pk=pipeline.pk).webhook_secret_sealed) == sealed
    assert not AuditEvent.objects.filter(action="pipeline.webhook_secret_rotated").exists()


def test_a_post_without_the_csrf_token_is_refused(owner_a, pipeline):
    sealed = bytes(pipeline.webhook_secret_sealed)

    response = signed_in(owner_a, enforce_csrf_checks=True).post(rotate_url(pipeline), {"grace_seconds": "0"})

    assert response.status_code == 403
    assert bytes(Pipeline.objects.get(pk=pipeline.pk).webhook_secret_sealed) == sealed


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER, Role.COMPLIANCE_OFFICER])
def test_a_member_who_may_not_manage_pipelines_cannot_rotate(org_a, make_member, pipeline, role):
    sealed = bytes(pipeline.webhook_secret_sealed)

    response = signed_in(make_member(org_a, role)).post(rotate_url(pipeline), {"grace_seconds": "0"})

    assert response.status_code == 404
    assert bytes(Pipeline.objects.get(pk=pipeline.pk).webhook_secret_sealed) == sealed

