"""The recipe pages as the server renders them: the list (create, import), the editor (read-only for the workforce),
and the forms that work without JavaScript (the draft as JSON, publish, link a dataset, delete)."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.recipes.models import DatasetRecipe, Recipe, RecipeVersion
from apps.recipes.services import recipe_create, recipe_export
from apps.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory

from .factories import published_recipe, street_spec

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


def signed_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def editor_state(response) -> dict:
    pattern = r'<script id="recipe-state" type="application/json">(.*?)</script>'
    match = re.search(pattern, response.content.decode(), re.S)
    assert match, "the editor state is missing"
    return json.loads(match.group(1))


@pytest.fixture
def annotator_a(org_a, make_member):
    return make_member(org_a, Role.ANNOTATOR)


@pytest.fixture
def street(org_a, owner_a):
    recipe, _version = published_recipe(org_a, owner_a.user)
    return recipe


# --- List ----------------------------------------------------------------------------------------


class TestRecipeList:
    def test_the_list_shows_name_label_count_and_latest_version(self, street, owner_a, org_a):
        recipe_create(org=org_a, actor=owner_a.user, name="Unpublished")

        response = signed_in(owner_a).get("/o/acme/recipes/")

        assert response.status_code == 200
        rows = re.findall(r'<tr data-recipe-id="(\d+)">(.*?)</tr>', response.content.decode(), re.S)
        cells = {pk: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip() for pk, html in rows}
        assert cells[str(street.pk)].startswith("Street 3 v1")
        assert "0 Draft only" in cells[str(Recipe.objects.get(name="Unpublished").pk)]
        assert b"Create recipe" in response.content and b"Import recipe" in response.content

    def test_the_main_navigation_links_to_the_recipes(self, owner_a):
        response = signed_in(owner_a).get("/o/acme/")

        assert b'href="/o/acme/recipes/"' in response.content

    def test_an_annotator_sees_the_list_without_forms(self, street, annotator_a):
        response = signed_in(annotator_a).get("/o/acme/recipes/")

        assert response.status_code == 200
        assert b"Street" in response.content
        assert b"Create recipe" not in response.content and b"Import recipe" not in response.content

    def test_an_annotator_cannot_create(self, annotator_a):
        response = signed_in(annotator_a).post("/o/acme/recipes/", {"name": "Mine"})

        assert response.status_code == 403
        assert not Recipe.objects.filter(name="Mine").exists()

    def test_a_compliance_officer_has_no_recipe_pages(self, org_a, make_member):
        officer = make_member(org_a, Role.COMPLIANCE_OFFICER)

        response = signed_in(officer).get("/o/acme/recipes/")

        assert response.status_code == 403
        assert b'href="/o/acme/recipes/"' not in signed_in(officer).get("/o/acme/").content

    def test_creating_a_recipe_opens_its_editor(self, owner_a, org_a):
        response = signed_in(owner_a).post("/o/acme/recipes/", {"name": "Faces", "description": "Blur them"})

        recipe = Recipe.objects.get(organization=org_a, name="Faces")
        assert response.status_code == 302
        assert response["Location"] == f"/o/acme/recipes/{recipe.pk}/"

    def test_a_duplicate_name_is_refused_next_to_the_name(self, street, owner_a):
        response = signed_in(owner_a).post("/o/acme/recipes/", {"name": "Street"})

        assert response.status_code == 400
        assert b"A recipe named &#x27;Street&#x27; already exists." in response.content

    def test_importing_an_exported_file_creates_a_draft(self, street, owner_a, org_a):
        document = json.dumps(recipe_export(recipe=street, version=street.versions.get()))
        upload = SimpleUploadedFile("street.json", document.encode(), content_type="application/json")

        response = signed_in(owner_a).post("/o/acme/recipes/import/", {"file": upload, "name": "Street copy"})

        copy = Recipe.objects.get(organization=org_a, name="Street copy")
        assert response.status_code == 302 and response["Location"] == f"/o/acme/recipes/{copy.pk}/"
        assert [lab["name"] for lab in copy.draft["labels"]] == ["car", "truck", "person"]
        assert copy.latest_version_number == 0

    @pytest.mark.parametrize("content,error", [
        (b"{not json", b"The file is not JSON: Expecting property name enclosed in double quotes at line 1, column 2."),
        (b'{"format": "other"}', b"Expected a recipe exported by dlsaas"),
        (b"\xff\xfe\x00", b"The file is not UTF-8 text"),
        (json.dumps({"format": "dlsaas.recipe/1", "name": "Bad", "spec": {"labels": [{"name": ""}]}}).encode(),
         b"labels.0.name: A label name is required"),
    ])
    def test_a_bad_import_says_what_is_wrong(self, owner_a, content, error):
        upload = SimpleUploadedFile("recipe.json", content, content_type="application/json")

        response = signed_in(owner_a).post("/o/acme/recipes/import/", {"file": upload})

        assert response.status_code == 400
        assert error in response.content
        assert not Recipe.objects.exists()


# --- Editor --------------------------------------------------------------------------------------


class TestRecipeEditor:
    def test_the_owner_gets_the_editor_with_its_state(self, street, owner_a):
        response = signed_in(owner_a).get(f"/o/acme/recipes/{street.pk}/")

        assert response.status_code == 200
        state = editor_state(response)
        assert [lab["name"] for lab in state["recipe"]["draft"]["labels"]] == ["car", "truck", "person"]
        assert state["previous"]["number"] == 1
        assert state["urls"]["recipe"] == f"/api/v1/recipes/{street.pk}/"
        assert state["urls"]["run"] == "/api/v1/label-migrations/0/"
        content = response.content.decode()
        assert 'id="recipe-editor"' in content and "Publish version 2" in content
        assert f'href="/api/v1/recipes/{street.pk}/export/?version=1"' in content
        assert "js/recipes/editor.js" in content

    def test_an_annotator_reads_the_latest_version_without_any_control(self, street, owner_a, org_a, annotator_a):
        spec = street_spec()
        spec["labels"][0]["name"] = "draft-only-label"
        signed_in(owner_a).post(f"/o/acme/recipes/{street.pk}/", {
            "name": "Street", "spec": json.dumps(spec)})

        response = signed_in(annotator_a).get(f"/o/acme/recipes/{street.pk}/")

        content = response.content.decode()
        assert response.status_code == 200
        assert "Version 1" in content and "colour" in content and "<kbd>1</kbd>" in content
        assert "draft-only-label" not in content
        for control in ('id="recipe-state"', 'id="recipe-editor"', 'id="publish-form"', 'id="json-form"',
                        "editor.js", "Delete this recipe"):
            assert control not in content
        assert f'href="/api/v1/recipes/{street.pk}/export/?version=1"' in content

    def test_an_annotator_cannot_save_publish_or_delete(self, street, annotator_a):
        client = signed_in(annotator_a)

        answers = [
            client.post(f"/o/acme/recipes/{street.pk}/", {"name": "Mine", "spec": "{}"}).status_code,
            client.post(f"/o/acme/recipes/{street.pk}/publish/", {"message": "x"}).status_code,
            client.post(f"/o/acme/recipes/{street.pk}/delete/").status_code,
        ]

        assert answers == [404, 404, 404]
        assert Recipe.objects.get(pk=street.pk).name == "Street"

    def test_another_organisations_recipe_is_not_found(self, org_b, owner_b, owner_a):
        theirs, _version = published_recipe(org_b, owner_b.user, name="Globex secret")
        client = signed_in(owner_a)

        answers = [client.get(f"/o/acme/recipes/{theirs.pk}/"),
                   client.post(f"/o/acme/recipes/{theirs.pk}/publish/", {"message": "x"}),
                   client.get(f"/o/acme/recipes/{theirs.pk}/delete/"),
                   client.get(f"/o/globex/recipes/{theirs.pk}/")]

        assert [a.status_code for a in answers] == [404, 404, 404, 404]
        assert all(b"Globex secret" not in a.content for a in answers)

    def test_markup_in_names_is_escaped_everywhere(self, org_a, owner_a, annotator_a):
        spec = street_spec()
        spec["labels"][0]["name"] = HOSTILE
        spec["labels"][0]["attributes"][0]["options"] = [HOSTILE, "blue"]
        spec["review"]["reject_reasons"] = [HOSTILE]
        recipe = recipe_create(org=org_a, actor=owner_a.user, name=HOSTILE, description=HOSTILE, spec=spec)

        pages = [signed_in(owner_a).get("/o/acme/recipes/"),
                 signed_in(owner_a).get(f"/o/acme/recipes/{recipe.pk}/"),
                 signed_in(annotator_a).get(f"/o/acme/recipes/{recipe.pk}/"),
                 signed_in(owner_a).get(f"/o/acme/recipes/{recipe.pk}/delete/")]

        for page in pages:
            assert page.status_code == 200
            assert HOSTILE.encode() not in page.content
            assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
        assert editor_state(pages[1])["recipe"]["draft"]["labels"][0]["name"] == HOSTILE

    def test_instructions_are_shown_as_cleaned_rich_text(self, org_a, owner_a, annotator_a):
        spec = street_spec()
        spec["instructions"] = ('<p>Box <strong>cars</strong></p>'
                                '<img src="https://cdn.example.test/car.png" alt="a car">'
                                '<img src="javascript:alert(1)"><p onclick="alert(1)">x</p>')
        recipe, _version = published_recipe(org_a, owner_a.user, spec=spec)

        content = signed_in(annotator_a).get(f"/o/acme/recipes/{recipe.pk}/").content.decode()

        assert "<p>Box <strong>cars</strong></p>" in content
        assert 'src="https://cdn.example.test/car.png"' in content
        assert "javascript:" not in content and "onclick" not in content


# --- Forms that work without JavaScript ----------------------------------------------------------


class TestEditorForms:
    def test_saving_the_draft_as_json(self, street, owner_a):
        spec = street_spec()
        spec["labels"].append({"name": "bicycle", "hotkey": "4", "tools": ["bbox"]})

        response = signed_in(owner_a).post(f"/o/acme/recipes/{street.pk}/", {
            "name": "Street scenes", "description": "Cars and such", "spec": json.dumps(spec)})

        street.refresh_from_db()
        assert response.status_code == 302
        assert street.name == "Street scenes"
        assert [lab["name"] for lab in street.draft["labels"]][-1] == "bicycle"

    def test_an_invalid_draft_names_each_path_and_changes_nothing(self, street, owner_a):
        spec = street_spec()
        spec["labels"][1]["hotkey"] = "1"
        spec["labels"][0]["attributes"][2].update(min=9, max=1)

        response = signed_in(owner_a).post(f"/o/acme/recipes/{street.pk}/",
                                           {"name": "Renamed", "spec": json.dumps(spec)})

        assert response.status_code == 400
        assert b"labels.1.hotkey: Hotkey &#x27;1&#x27; is already &#x27;car&#x27;." in response.content
        assert b"labels.0.attributes.2.max: max must not be below min." in response.content
        street.refresh_from_db()
        assert street.name == "Street" and street.draft["labels"][1]["hotkey"] == "2"

    def test_text_that_is_not_json_is_refused_in_words(self, street, owner_a):
        response = signed_in(owner_a).post(f"/o/acme/recipes/{street.pk}/", {"name": "Street", "spec": '{"labels": ['})

        assert response.status_code == 400
        assert b"The recipe is not JSON: Expecting value at line 1, column 13." in response.content

    def test_publishing_needs_a_migration_for_labels_that_disappear(self, street, owner_a):
        spec = street_spec()
        spec["labels"][1]["name"] = "lorry"
        client = signed_in(owner_a)
        client.post(f"/o/acme/recipes/{street.pk}/", {"name": "Street", "spec": json.dumps(spec)})

        refused = client.post(f"/o/acme/recipes/{street.pk}/publish/", {
            "message": "Lorries", "migration": json.dumps([{"op": "rename", "from": "truck", "to": "van"}])})
        published = client.post(f"/o/acme/recipes/{street.pk}/publish/", {
            "message": "Lorries", "migration": json.dumps([{"op": "rename", "from": "truck", "to": "lorry"}])})

        assert refused.status_code == 400
        assert b"migration.0.to: &#x27;van&#x27; is not a label of the new version." in refused.content
        assert published.status_code == 302
        version = RecipeVersion.objects.get(recipe=street, number=2)
        assert (version.message, version.migration) == ("Lorries", [{"op": "rename", "from": "truck", "to": "lorry"}])

    def test_linking_a_dataset(self, street, owner_a, org_a):
        dataset = DatasetFactory(organization=org_a, name="Streets of Lyon")
        client = signed_in(owner_a)
        assert b"Streets of Lyon" in client.get(f"/o/acme/recipes/{street.pk}/").content

        response = client.post(f"/o/acme/recipes/{street.pk}/dataset/", {"dataset": dataset.pk})

        assert response.status_code == 302
        assert DatasetRecipe.objects.get(dataset=dataset).recipe_id == street.pk
        page = client.get(f"/o/acme/recipes/{street.pk}/").content.decode()
        link = f'<li><a href="/o/acme/datasets/{dataset.pk}/">Streets of Lyon</a>'
        assert re.search(r'id="datasets-using">\s*' + re.escape(link), page)

    def test_an_unpublished_recipe_cannot_be_linked(self, owner_a, org_a):
        recipe = recipe_create(org=org_a, actor=owner_a.user, name="Draft only", spec=street_spec())
        dataset = DatasetFactory(organization=org_a)

        response = signed_in(owner_a).post(f"/o/acme/recipes/{recipe.pk}/dataset/", {"dataset": dataset.pk})

        assert response.status_code == 400
        assert b"Publish the recipe before annotating a dataset with it." in response.content
        assert not DatasetRecipe.objects.exists()

    def test_another_organisations_dataset_cannot_be_linked(self, street, owner_a, org_b):
        theirs = DatasetFactory(organization=org_b)

        response = signed_in(owner_a).post(f"/o/acme/recipes/{street.pk}/dataset/", {"dataset": theirs.pk})

        assert response.status_code == 400
        assert not DatasetRecipe.objects.exists()

    def test_deleting_a_recipe(self, owner_a, org_a):
        recipe = recipe_create(org=org_a, actor=owner_a.user, name="Short-lived")
        client = signed_in(owner_a)
        assert b"Delete the recipe Short-lived?" in client.get(f"/o/acme/recipes/{recipe.pk}/delete/").content

        response = client.post(f"/o/acme/recipes/{recipe.pk}/delete/")

        assert response.status_code == 302 and response["Location"] == "/o/acme/recipes/"
        assert not Recipe.objects.filter(pk=recipe.pk).exists()

    def test_a_recipe_a_dataset_uses_is_not_deleted(self, owner_a, org_a):
        recipe, _version = published_recipe(org_a, owner_a.user, dataset=DatasetFactory(organization=org_a))

        response = signed_in(owner_a).post(f"/o/acme/recipes/{recipe.pk}/delete/", follow=True)

        assert b"This recipe is in use" in response.content
        assert Recipe.objects.filter(pk=recipe.pk).exists()
