from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel


def empty_spec() -> dict:
    return {"labels": [], "attributes": [], "instructions": "", "review": {"required": False, "sample_ratio": 0.0,
                                                                          "reject_reasons": []}}


class Recipe(TenantOwnedModel):
    """An ontology with its tools, instructions and review settings. `draft` is edited freely; publishing
    freezes it into the next RecipeVersion, which is what tasks and annotations pin."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    draft = models.JSONField(default=empty_spec)
    latest_version_number = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="recipe_name_unique_in_org")]

    def __str__(self) -> str:
        return self.name


class RecipeVersion(TenantOwnedModel):
    """An immutable snapshot of a recipe (a database trigger refuses UPDATE). `migration` says how annotations
    pinned to the previous version follow this one (see migration_map.py)."""

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    migration = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    checksum = models.CharField(max_length=64, help_text="sha256 of the canonical spec.")
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+")
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recipe", "number"], name="recipeversion_unique_number")]
        indexes = [models.Index(fields=["organization", "recipe", "-number"], name="recipeversion_org_recipe")]

    def __str__(self) -> str:
        return f"{self.recipe_id} v{self.number}"


class DatasetRecipe(TenantOwnedModel):
    """The recipe a dataset is annotated with when no task says otherwise (the studio opened from the browser)."""

    dataset = models.OneToOneField("datasets.Dataset", on_delete=models.CASCADE, related_name="+")
    recipe = models.ForeignKey(Recipe, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.dataset_id} -> {self.recipe_id}"
