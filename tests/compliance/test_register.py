"""The processing register (GDPR art. 30), generated from each dataset's configuration: API and page."""


from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from tests.compliance.pages import signed_in
from tests.datasets.factories import DatasetFactory, ItemFactory


def test_the_register_lists_each_dataset_with_region_retention_and_processors(org_a, org_b, officer, dataset,
                                                                              api_for, settings):
    settings.PROCESSORS = [
        {"name": "EU storage", "purpose": "Item content", "region": org_a.region, "location": "Frankfurt"},
        {"name": "Other storage", "purpose": "Item content", "region": "elsewhere"},
        {"name": "Mail provider", "purpose": "Notifications"},
    ]
    DatasetFactory(organization=org_b, name="Globex data")

    body = api_for(officer).get("/api/v1/processing-register/").json()

    assert body["controller"] == "Acme Vision" and body["region"] == org_a.region
    assert [p["name"] for p in body["processors"]] == ["EU storage", "Mail provider"]
    assert body["datasets"] == [{
        "id": dataset.pk, "name": "Faces", "classification": "personal", "classification_label": "Personal data",
        "purpose": "Training a face blurring model", "subject_categories": ["customers", "children"],
        "region": org_a.region, "retention_days": 90, "processors": ["EU storage", "Mail provider"],
    }]


def test_the_default_processors_name_the_storage_of_the_organisations_region(org_a, officer, api_for):
    body = api_for(officer).get("/api/v1/processing-register/").json()

    assert [p["region"] for p in body["processors"]] == [org_a.region]
    assert "storage" in body["processors"][0]["name"].lower()


def test_the_register_page_shows_the_same_entries(org_a, officer, dataset):
    body = signed_in(officer.user).get("/o/acme/audit/processing-register/").content.decode()

    assert "Faces" in body and "Training a face blurring model" in body and "90 days" in body
    assert "Customers, Children" in body


def test_the_register_needs_audit_view(org_a, make_member, api_for):
    response = api_for(make_member(org_a, Role.MANAGER)).get("/api/v1/processing-register/")

    assert response.status_code == 403


def test_the_register_holds_only_the_callers_datasets(org_a, owner_a, org_b, dataset, api_for):
    foreign = DatasetFactory(organization=org_b, name="Globex data")

    body = api_for(owner_a).get(f"/api/v1/processing-register/?organization={org_b.pk}&org=globex",
                                HTTP_X_ORGANIZATION="globex").json()

    assert [d["id"] for d in body["datasets"]] == [dataset.pk]
    assert foreign.pk not in {d["id"] for d in body["datasets"]}


def test_a_dataset_purpose_is_set_through_the_api(org_a, owner_a, api_for):
    client = api_for(owner_a)

    created = client.post("/api/v1/datasets/", {"name": "Scans", "purpose": "Tumour detection"}, format="json")
    patched = client.patch(f"/api/v1/datasets/{created.json()['id']}/", {"purpose": "Research"}, format="json")

    assert created.status_code == 201 and created.json()["purpose"] == "Tumour detection"
    assert patched.json()["purpose"] == "Research"


def test_the_categories_of_data_subjects_are_set_through_the_api_from_a_fixed_vocabulary(org_a, owner_a, api_for):
    client = api_for(owner_a)

    created = client.post("/api/v1/datasets/", {"name": "Scans", "subject_categories": ["patients", "children",
                                                                                       "patients"]}, format="json")
    patched = client.patch(f"/api/v1/datasets/{created.json()['id']}/", {"subject_categories": ["employees"]},
                           format="json")
    refused = client.patch(f"/api/v1/datasets/{created.json()['id']}/", {"subject_categories": ["aliens"]},
                           format="json")

    assert created.status_code == 201 and created.json()["subject_categories"] == ["patients", "children"]
    assert patched.json()["subject_categories"] == ["employees"]
    assert refused.status_code == 400
    assert "not a category of data subjects" in refused.json()["errors"]["subject_categories.0"][0]


def test_the_categories_of_data_subjects_are_chosen_on_the_new_dataset_form(org_a, owner_a):
    client = signed_in(owner_a.user)

    response = client.post("/o/acme/datasets/", {"name": "Staff photos", "classification": "personal",
                                                  "subject_categories": ["employees", "public"]})

    assert response.status_code == 302
    body = client.get("/o/acme/audit/processing-register/").content.decode()
    assert "Employees, Members of the public" in body


# --- the officer never reads content ------------------------------------------------------------------------------

def test_a_compliance_officer_cannot_read_item_content(org_a, officer, dataset, api_for):
    item = ItemFactory(dataset=dataset, name="face-1.jpg", metadata={"subject": "alice"})
    api = api_for(officer)
    page = signed_in(officer.user)

    answers = [
        api.get(f"/api/v1/items/{item.pk}/"),
        api.get(f"/api/v1/items/{item.pk}/content/"),
        api.get(f"/api/v1/items/{item.pk}/thumbnail/"),
        api.post(f"/api/v1/datasets/{dataset.pk}/items/query/", {"filter": {}}, format="json"),
        page.get(f"/o/acme/items/{item.pk}/"),
        page.get(f"/o/acme/items/{item.pk}/annotate/"),
        page.get(f"/o/acme/datasets/{dataset.pk}/"),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert not any(b"alice" in a.content or b"face-1.jpg" in a.content for a in answers)
    assert not AuditEvent.objects.filter(action__in=["item.viewed", "item.downloaded"]).exists()
