"""The demo organisation's recipe: a small everyday ontology, published and used by the demo dataset."""

from .models import Recipe
from .selectors import recipe_latest_version
from .services import dataset_recipe_set, recipe_create, recipe_publish

DEMO_RECIPE = "Everyday objects"
DEMO_SPEC = {
    "labels": [
        {"name": "person", "color": "#59a14f", "hotkey": "1", "tools": ["bbox", "polygon", "keypoints"],
         "skeleton": {"points": ["head", "left_shoulder", "right_shoulder", "left_hand", "right_hand"],
                      "edges": [[0, 1], [0, 2], [1, 3], [2, 4]]},
         "attributes": [{"name": "occluded", "type": "boolean", "default": False}]},
        {"name": "animal", "color": "#f28e2b", "hotkey": "2", "tools": ["bbox", "polygon", "mask"],
         "attributes": [{"name": "species", "type": "enum", "options": ["cat", "horse", "other"], "required": True}]},
        {"name": "vehicle", "color": "#4e79a7", "hotkey": "3", "tools": ["bbox", "rotated_bbox", "polygon"]},
        {"name": "object", "color": "#e15759", "hotkey": "4",
         "tools": ["bbox", "ellipse", "polygon", "polyline", "point"]},
        {"name": "indoor", "color": "#76b7b2", "hotkey": "5", "tools": ["classification"]},
        {"name": "outdoor", "color": "#edc948", "hotkey": "6", "tools": ["classification"]},
    ],
    "attributes": [{"name": "quality", "type": "enum", "options": ["sharp", "blurry"]}],
    "instructions": "<p>Draw a <strong>tight box</strong> around every person, animal and vehicle. "
                    "Mark the scene <em>indoor</em> or <em>outdoor</em>.</p>",
    "review": {"required": True, "sample_ratio": 0.5, "reject_reasons": ["Wrong label", "Loose box", "Missed object"]},
}


def demo_recipe_seed(*, org, actor, dataset) -> tuple[Recipe, bool]:
    """Creates, publishes and links the demo recipe once; returns it and whether it was created now."""
    recipe = Recipe.objects.for_org(org).filter(name=DEMO_RECIPE).first()
    created = recipe is None
    if created:
        recipe = recipe_create(org=org, actor=actor, name=DEMO_RECIPE, spec=DEMO_SPEC,
                               description="Try the studio: boxes, polygons, skeletons and masks.")
    if recipe_latest_version(recipe=recipe) is None:
        recipe_publish(org=org, actor=actor, recipe=recipe, message="First version")
    if dataset is not None:
        dataset_recipe_set(org=org, actor=actor, dataset=dataset, recipe=recipe)
    return recipe, created
