"""Reads of the recipes app."""

from .models import DatasetRecipe, Recipe, RecipeVersion


def recipe_list(*, org):
    return Recipe.objects.for_org(org).order_by("name", "id")


def recipe_version_list(*, recipe: Recipe):
    return RecipeVersion.objects.for_org(recipe.organization_id).filter(recipe=recipe).order_by("-number")


def recipe_latest_version(*, recipe: Recipe) -> RecipeVersion | None:
    return recipe_version_list(recipe=recipe).first()


def dataset_recipe(*, org, dataset) -> Recipe | None:
    link = DatasetRecipe.objects.for_org(org).select_related("recipe").filter(dataset=dataset).first()
    return link.recipe if link else None


def dataset_recipe_version(*, org, dataset) -> RecipeVersion | None:
    """The version new annotations on this dataset pin when no task says otherwise: its recipe's latest."""
    recipe = dataset_recipe(org=org, dataset=dataset)
    return recipe_latest_version(recipe=recipe) if recipe else None


def dataset_ids_using(*, org, recipe: Recipe) -> set[int]:
    """Ids of the datasets annotated with this recipe by default."""
    return set(DatasetRecipe.objects.for_org(org).filter(recipe=recipe).values_list("dataset_id", flat=True))
