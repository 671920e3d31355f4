"""Recipes for tests: a realistic ontology, published through the service so versions are what users get."""

import copy

from apps.recipes.models import DatasetRecipe
from apps.recipes.services import recipe_create, recipe_publish

STREET_SPEC = {
    "labels": [
        {"name": "car", "color": "#e15759", "hotkey": "1",
         "tools": ["bbox", "rotated_bbox", "ellipse", "polygon", "polyline", "point", "mask", "classification"],
         "attributes": [
             {"name": "colour", "type": "enum", "options": ["red", "blue", "other"], "required": True},
             {"name": "occluded", "type": "boolean", "default": False},
             {"name": "doors", "type": "number", "min": 2, "max": 5},
             {"name": "tags", "type": "multi_enum", "options": ["taxi", "police", "parked"]},
             {"name": "plate", "type": "text"},
         ]},
        {"name": "truck", "color": "#4e79a7", "hotkey": "2", "tools": ["bbox", "polygon"]},
        {"name": "person", "color": "#59a14f", "hotkey": "3", "tools": ["keypoints", "bbox"],
         "skeleton": {"points": ["head", "left_hand", "right_hand"], "edges": [[0, 1], [0, 2]]}},
    ],
    "attributes": [{"name": "weather", "type": "enum", "options": ["sunny", "rain", "night"]}],
    "instructions": "<p>Box every <strong>vehicle</strong>.</p>",
    "review": {"required": True, "sample_ratio": 0.2, "reject_reasons": ["Wrong label", "Loose box"]},
}


def street_spec() -> dict:
    return copy.deepcopy(STREET_SPEC)


def published_recipe(org, actor, *, name="Street", spec=None, dataset=None):
    """Creates and publishes a recipe (version 1); links it to `dataset` when given. Returns (recipe, version)."""
    recipe = recipe_create(org=org, actor=actor, name=name, spec=spec or street_spec())
    version = recipe_publish(org=org, actor=actor, recipe=recipe, message="First version")
    if dataset is not None:
        DatasetRecipe.objects.update_or_create(dataset=dataset, defaults={"recipe": recipe, "organization": org})
    return recipe, version
