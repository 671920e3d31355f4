"""The legal hold on the dataset's settings page: placed with a mandatory reason, lifted, shown, and audited through
the service the API's PATCH uses."""

import html
import re

from django.test import Client

from apps.compliance.models import AuditEvent
from apps.datasets.models import Dataset
from apps.tenancy.roles import Role

from .factories import DatasetFactory


def signed_in(membership, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(membership.user)
    return client


def text(response) -> str:
    """The words of the page, without markup."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def settings_url(dataset) -> str:
    return f"/o/{dataset.organization.slug}/datasets/{dataset.pk}/settings/"


def test_a_manager_places_a_hold_with_its_reason_and_it_is_audited(org_a, dataset_a, manager_a):
    response = signed_in(manager_a).post(settings_url(dataset_a),
                                         {"legal_hold": "on", "legal_hold_reason": "Case 2026-17, Smith v Acme"},
                                         follow=True)

    dataset_a.refresh_from_db()
    assert dataset_a.legal_hold and dataset_a.legal_hold_reason == "Case 2026-17, Smith v Acme"
    body = text(response)
    assert "Street scenes is now under legal hold." in body
    assert "This dataset is under legal hold : Case 2026-17, Smith v Acme" in body
    event = AuditEvent.objects.get(organization=org_a, action="dataset.legal_hold_placed")
    assert event.actor_user == manager_a.user and event.after["legal_hold_reason"] == "Case 2026-17, Smith v Acme"


def test_a_hold_without_a_reason_is_refused_beside_the_reason_field(dataset_a, manager_a):
    response = signed_in(manager_a).post(settings_url(dataset_a), {"legal_hold": "on", "legal_hold_reason": "  "})

    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    reason_group = page.split(">Reason for the hold", 1)[1].split('class="field', 1)[0]
    assert "Say why the dataset is held" in reason_group
    dataset_a.refresh_from_db()
    assert not dataset_a.legal_hold
    assert not AuditEvent.objects.filter(action="dataset.legal_hold_placed").exists()


def test_lifting_the_hold_clears_it_and_is_audited(org_a, dataset_a, manager_a):
    Dataset.objects.filter(pk=dataset_a.pk).update(legal_hold=True, legal_hold_reason="Case 1")

    response = signed_in(manager_a).post(settings_url(dataset_a), {"legal_hold_reason": "Case 1"}, follow=True)

    dataset_a.refresh_from_db()
    assert not dataset_a.legal_hold and dataset_a.legal_hold_reason == ""
    assert "The legal hold on Street scenes is lifted." in text(response)
    assert "This dataset is not under legal hold." in text(response)
    assert AuditEvent.objects.filter(organization=org_a, action="dataset.legal_hold_lifted").count() == 1


def test_the_browser_links_the_settings_and_shows_the_hold(dataset_a, manager_a):
    Dataset.objects.filter(pk=dataset_a.pk).update(legal_hold=True, legal_hold_reason="Case 1")

    body = signed_in(manager_a).get(f"/o/acme/datasets/{dataset_a.pk}/").content.decode()

    assert f'href="{settings_url(dataset_a)}"' in body and "Legal hold</span>" in body


def test_a_compliance_officer_sees_the_hold_but_may_not_change_it(org_a, dataset_a, make_member):
    Dataset.objects.filter(pk=dataset_a.pk).update(legal_hold=True, legal_hold_reason="Case 1")
    client = signed_in(make_member(org_a, Role.COMPLIANCE_OFFICER))

    page = client.get(settings_url(dataset_a))
    refused = client.post(settings_url(dataset_a), {})

    assert page.status_code == 200
    assert "This dataset is under legal hold" in text(page) and "Save legal hold" not in text(page)
    assert refused.status_code == 403
    dataset_a.refresh_from_db()
    assert dataset_a.legal_hold


def test_members_without_the_dataset_and_other_tenants_get_404(org_a, org_b, dataset_a, make_member, owner_b):
    foreign = DatasetFactory(organization=org_b)
    annotator = signed_in(make_member(org_a, Role.ANNOTATOR))
    owner = signed_in(owner_b)

    answers = [annotator.get(settings_url(dataset_a)).status_code,
               annotator.post(settings_url(dataset_a), {"legal_hold": "on", "legal_hold_reason": "x"}).status_code,
               owner.post(f"/o/globex/datasets/{dataset_a.pk}/settings/",
                          {"legal_hold": "on", "legal_hold_reason": "x"}).status_code,
               owner.get(f"/o/acme/datasets/{foreign.pk}/settings/").status_code]

    assert answers == [404, 404, 404, 404]
    dataset_a.refresh_from_db()
    assert not dataset_a.legal_hold


def test_the_hold_form_needs_its_csrf_token(dataset_a, manager_a):
    response = signed_in(manager_a, enforce_csrf_checks=True).post(
        settings_url(dataset_a), {"legal_hold": "on", "legal_hold_reason": "Case 1"})

    assert response.status_code == 403
    dataset_a.refresh_from_db()
    assert not dataset_a.legal_hold


def test_a_manager_states_the_register_entry_on_the_settings_page_and_it_is_audited(org_a, dataset_a, manager_a):
    from apps.compliance.models import AuditEvent

    body = {"section": "register", "classification": "personal", "retention_days": "90",
            "purpose": "Training the triage model", "subject_key": "patient_id",
            "subject_categories": ["patients", "children"]}
    bad = signed_in(manager_a).post(settings_url(dataset_a), {**body, "subject_key": "patient id!"})
    assert bad.status_code == 400 and "A metadata key" in text(bad)

    done = signed_in(manager_a).post(settings_url(dataset_a), body, follow=True)

    assert "What the processing register says of" in text(done)
    dataset_a.refresh_from_db()
    assert (dataset_a.classification, dataset_a.retention_days, dataset_a.subject_key) == ("personal", 90,
                                                                                          "patient_id")
    assert dataset_a.subject_categories == ["patients", "children"]
    event = AuditEvent.objects.get(action="dataset.updated", target_id=str(dataset_a.pk))
    assert event.after["purpose"] == "Training the triage model"
