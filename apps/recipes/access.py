"""Fetch and authorise one recipe or recipe version; missing and forbidden are the same 404."""

from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import Recipe, RecipeVersion


def access_recipe(*, org, actor, recipe_id, scope: str = "recipe.view") -> Recipe:
    pk = parse_id(recipe_id)
    recipe = Recipe.objects.for_org(org).filter(pk=pk).first() if pk else None
    if recipe is None or not has_scope(org=org, actor=actor, scope=scope, obj=recipe):
        deny_not_found(org=org, actor=actor, target_type="recipes.recipe", target_id=recipe_id, scope=scope)
    return recipe


def access_recipe_version(*, org, actor, version_id, scope: str = "recipe.view") -> RecipeVersion:
    pk = parse_id(version_id)
    version = RecipeVersion.objects.for_org(org).select_related("recipe").filter(pk=pk).first() if pk else None
    if version is None or not has_scope(org=org, actor=actor, scope=scope, obj=version.recipe):
        deny_not_found(org=org, actor=actor, target_type="recipes.recipeversion", target_id=version_id, scope=scope)
    return version
