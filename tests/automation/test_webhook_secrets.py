"""A pipeline's webhook secret: sealed at rest, shown once, rotatable with a grace period, audited."""

import hashlib
import hmac

import pytest
from django.db import connection

from apps.automation.models import Pipeline
from apps.automation.webhook_secrets import webhook_signing_secrets
from apps.compliance.models import AuditEvent
from apps.storage.errors import KeyUnavailable
from tests.automation.test_pipelines import drain
from tests.automation.test_webhook_qa import create, receiver, webhook_graph  # noqa: F401  (fixture)
from tests.datasets.factories import DatasetFactory, ItemFactory


@pytest.fixture
def dataset(org_a):
    return DatasetFactory(organization=org_a)


@pytest.fixture
def made(api_for, owner_a, dataset):
    response = create(api_for(owner_a), dataset, webhook_graph("https://hooks.example.com/dlsaas"))
    assert response.status_code == 201, response.content
    return response.json()


def rotate(client, pipeline_id, body=None):
    return client.post(f"/api/v1/pipelines/{pipeline_id}/webhook-secret/rotate/", body or {}, format="json")


def test_the_secret_is_stored_sealed_and_shown_only_in_the_create_answer(api_for, owner_a, made):
    secret = made["webhook_secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(p)::text FROM automation_pipeline p WHERE id = %s", [made["id"]])
        stored = cursor.fetchone()[0]

    shown = api_for(owner_a).get(f"/api/v1/pipelines/{made['id']}/").json()

    assert secret not in stored and secret.encode().hex() not in stored
    assert "webhook_secret" not in shown and shown["webhook_secret_set"] is True
    listed = api_for(owner_a).get("/api/v1/pipelines/").json()["results"]
    assert all("webhook_secret" not in p for p in listed)
    assert AuditEvent.objects.get(action="pipeline.created").metadata == {"webhook_secret": "issued, sealed"}


def test_rotating_issues_a_new_secret_once_and_the_old_one_signs_until_the_grace_ends(api_for, owner_a, made):
    client = api_for(owner_a)

    response = rotate(client, made["id"], {"grace_seconds": 3600})

    assert response.status_code == 200
    new = response.json()["webhook_secret"]
    assert len(new) == 64 and new != made["webhook_secret"]
    pipeline = Pipeline.objects.get(pk=made["id"])
    assert webhook_signing_secrets(pipeline) == [new, made["webhook_secret"]]
    assert webhook_signing_secrets(pipeline, now=pipeline.webhook_secret_previous_until) == [new]
    shown = client.get(f"/api/v1/pipelines/{made['id']}/").json()
    assert shown["webhook_secret_previous_until"] is not None and "webhook_secret" not in shown
    event = AuditEvent.objects.get(action="pipeline.webhook_secret_rotated")
    assert event.metadata["grace_seconds"] == 3600 and event.metadata["chosen_by"] == "random"
    assert new not in str(event.metadata) and made["webhook_secret"] not in str(event.metadata)


def test_a_rotation_without_grace_replaces_the_secret_at_once_with_the_callers_own(api_for, owner_a, made):
    own = "s3cr3t-" + "x" * 40

    response = rotate(api_for(owner_a), made["id"], {"grace_seconds": 0, "secret": own})

    assert response.status_code == 200 and response.json() == {"webhook_secret": own, "previous_valid_until": None}
    assert webhook_signing_secrets(Pipeline.objects.get(pk=made["id"])) == [own]


def test_during_the_grace_a_delivery_carries_both_signatures(api_for, owner_a, dataset, receiver):  # noqa: F811
    client = api_for(owner_a)
    made = create(client, dataset, webhook_graph(receiver.url)).json()
    new = rotate(client, made["id"]).json()["webhook_secret"]
    item = ItemFactory(dataset=dataset)

    client.post(f"/api/v1/pipelines/{made['id']}/run/", {"item_ids": [item.pk]}, format="json")
    drain()

    [(_path, headers, body)] = receiver.received
    signed = headers["X-Dlsaas-Timestamp"].encode() + b"." + body
    assert headers["X-Dlsaas-Signature"] == ", ".join(
        f"sha256={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in (new, made["webhook_secret"]))


@pytest.mark.parametrize("body,field", [
    ({"grace_seconds": -1}, "grace_seconds"), ({"grace_seconds": 10**9}, "grace_seconds"),
    ({"secret": "short"}, "secret"), ({"secret": " " + "x" * 40}, "secret"), ({"secret": "é" * 40}, "secret"),
])
def test_a_bad_rotation_answers_400_naming_the_field_and_keeps_the_secret(api_for, owner_a, made, body, field):
    response = rotate(api_for(owner_a), made["id"], body)

    assert response.status_code == 400 and field in response.json()["errors"]
    assert webhook_signing_secrets(Pipeline.objects.get(pk=made["id"])) == [made["webhook_secret"]]


def test_an_annotator_cannot_rotate(api_for, made, make_member, org_a):
    from apps.tenancy.roles import Role

    response = rotate(api_for(make_member(org_a, Role.ANNOTATOR)), made["id"])

    assert response.status_code in (403, 404)
    assert not AuditEvent.objects.filter(action="pipeline.webhook_secret_rotated").exists()


def test_a_sealed_secret_copied_onto_another_pipeline_does_not_open(api_for, owner_a, made, dataset):
    other = create(api_for(owner_a), dataset, webhook_graph("https://hooks.example.com/x"), name="Other").json()
    source, target = Pipeline.objects.get(pk=made["id"]), Pipeline.objects.get(pk=other["id"])
    target.webhook_secret_sealed = source.webhook_secret_sealed

    with pytest.raises(KeyUnavailable):
        webhook_signing_secrets(target)
