"""Writes of the recipes app: create, edit the draft, publish immutable versions, import/export, link datasets."""

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from apps.compliance.services import audit_record
from apps.tenancy.permissions import require_scope

from .migration_map import normalise_migration_map
from .models import DatasetRecipe, Recipe, RecipeVersion, empty_spec
from .spec import normalise_spec

EXPORT_FORMAT = "dlsaas.recipe/1"


def spec_checksum(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _clean_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 200:
        raise ValidationError({"name": "A name is 1 to 200 characters."})
    return name


def recipe_create(*, org, actor, name: str, description: str = "", spec: dict | None = None) -> Recipe:
    require_scope(org=org, actor=actor, scope="recipe.manage")
    recipe = Recipe(organization_id=org.pk, name=_clean_name(name), description=description or "",
                    draft=normalise_spec(spec) if spec is not None else empty_spec(), created_by=actor)
    try:
        with transaction.atomic():
            recipe.save()
            audit_record(org=org, actor=actor, action="recipe.created", target=recipe,
                         after={"name": recipe.name, "labels": [lab["name"] for lab in recipe.draft["labels"]]})
    except IntegrityError:
        raise ValidationError({"name": f"A recipe named {recipe.name!r} already exists."}) from None
    return recipe


def recipe_update(*, org, actor, recipe: Recipe, name: str | None = None, description: str | None = None,
                  spec: dict | None = None) -> Recipe:
    """Changes the name, description or draft. Published versions never change."""
    require_scope(org=org, actor=actor, scope="recipe.manage", obj=recipe)
    before, fields = {}, []
    if name is not None:
        before["name"], recipe.name = recipe.name, _clean_name(name)
        fields.append("name")
    if description is not None:
        before["description"], recipe.description = recipe.description, description[:5000]
        fields.append("description")
    if spec is not None:
        before["labels"] = [lab["name"] for lab in recipe.draft.get("labels", [])]
        recipe.draft = normalise_spec(spec)
        fields.append("draft")
    if not fields:
        return recipe
    try:
        with transaction.atomic():
            recipe.save(update_fields=[*fields, "updated_at"])
            after = {k: getattr(recipe, k) for k in ("name", "description") if k in before}
            if "labels" in before:
                after["labels"] = [lab["name"] for lab in recipe.draft["labels"]]
            audit_record(org=org, actor=actor, action="recipe.updated", target=recipe, before=before, after=after)
    except IntegrityError:
        raise ValidationError({"name": f"A recipe named {recipe.name!r} already exists."}) from None
    return recipe


def recipe_publish(*, org, actor, recipe: Recipe, message: str = "", migration: list | None = None) -> RecipeVersion:
    """Freezes the draft into the next immutable version. From version 2 on, `migration` says how annotations
    pinned to the previous version follow (labels that disappear must be renamed, merged, split or deleted)."""
    require_scope(org=org, actor=actor, scope="recipe.manage", obj=recipe)
    spec = normalise_spec(recipe.draft)
    if not spec["labels"]:
        raise ValidationError({"spec": "A recipe needs at least one label before it is published."})
    with transaction.atomic():
        locked = Recipe.objects.for_org(org).select_for_update().get(pk=recipe.pk)
        previous = RecipeVersion.objects.for_org(org).filter(recipe=locked).order_by("-number").first()
        checksum = spec_checksum(spec)
        if previous is None:
            if migration:
                raise ValidationError({"migration": "The first version has nothing to migrate from."})
            ops = []
        else:
            if previous.checksum == checksum:
                raise ValidationError({"spec": f"Nothing changed since version {previous.number}."})
            ops = normalise_migration_map(migration, old_spec=previous.spec, new_spec=spec)
        version = RecipeVersion.objects.create(
            organization_id=org.pk, recipe=locked, number=locked.latest_version_number + 1, spec=spec,
            migration=ops, message=(message or "")[:500], checksum=checksum, published_by=actor,
        )
        locked.latest_version_number = version.number
        locked.save(update_fields=["latest_version_number", "updated_at"])
        audit_record(org=org, actor=actor, action="recipe.published", target=version,
                     target_label=f"{locked.name} v{version.number}",
                     after={"recipe_id": locked.pk, "number": version.number, "checksum": checksum,
                            "migration": ops})
    recipe.latest_version_number = version.number
    return version


def recipe_delete(*, org, actor, recipe: Recipe) -> None:
    require_scope(org=org, actor=actor, scope="recipe.manage", obj=recipe)
    try:
        with transaction.atomic():
            audit_record(org=org, actor=actor, action="recipe.deleted", target=recipe,
                         before={"name": recipe.name, "versions": recipe.latest_version_number})
            recipe.delete()
    except ProtectedError:
        raise ValidationError({"recipe": "This recipe is in use (annotations or datasets pin it); "
                                         "it cannot be deleted."}) from None


def recipe_export(*, recipe: Recipe, version: RecipeVersion | None = None) -> dict:
    """The portable JSON of a recipe: its draft, or one published version."""
    return {"format": EXPORT_FORMAT, "name": recipe.name, "description": recipe.description,
            "version": version.number if version else None, "spec": version.spec if version else recipe.draft}


def recipe_import(*, org, actor, document, name: str | None = None) -> Recipe:
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ValidationError({"format": f"Expected a recipe exported by dlsaas (format {EXPORT_FORMAT!r})."})
    return recipe_create(org=org, actor=actor, name=name or document.get("name"),
                         description=document.get("description") or "", spec=document.get("spec"))


def dataset_recipe_set(*, org, actor, dataset, recipe: Recipe) -> DatasetRecipe:
    require_scope(org=org, actor=actor, scope="dataset.manage", obj=dataset)
    if recipe.latest_version_number == 0:
        raise ValidationError({"recipe_id": "Publish the recipe before annotating a dataset with it."})
    with transaction.atomic():
        link, _ = DatasetRecipe.objects.for_org(org).update_or_create(
            dataset=dataset, defaults={"recipe": recipe, "organization_id": org.pk})
        audit_record(org=org, actor=actor, action="dataset.recipe_set", target=dataset,
                     after={"recipe_id": recipe.pk, "recipe": recipe.name})
    return link
