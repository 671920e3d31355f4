"""The annotation studio: one image item in a canvas editor (static/js/studio/), served as a page.

The page is thin: it authorises the item (annotation.view; read-only without annotation.change), records that
the item was opened, and hands the editor what it needs in one json_script: the item, the recipe version new
annotations pin, the next item to preload, and whether the user may edit. Everything after that goes through
the annotations API (list, the all-or-nothing changes endpoint), as any other client does.
"""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.datasets.access import access_item
from apps.datasets.models import Item
from apps.datasets.selectors import item_next
from apps.datasets.services import item_content_read
from apps.recipes.selectors import dataset_recipe_version
from apps.tenancy.permissions import has_scope

# (tool, name, shortcut letter (with Shift), the label tool it needs): shown when some label of the recipe may use it.
TOOLS = (
    ("select", "Select", "S", None),
    ("bbox", "Box", "B", "bbox"),
    ("rotated_bbox", "Rotated box", "R", "rotated_bbox"),
    ("ellipse", "Ellipse", "E", "ellipse"),
    ("point", "Point", "P", "point"),
    ("keypoints", "Skeleton", "K", "keypoints"),
    ("polyline", "Polyline", "L", "polyline"),
    ("polygon", "Polygon", "G", "polygon"),
    ("hole", "Hole", "H", "polygon"),
    ("brush", "Brush", "M", "mask"),
    ("eraser", "Eraser", "X", "mask"),
)


def _tools(spec: dict, may_edit: bool) -> list[dict]:
    used = {tool for label in spec["labels"] for tool in label["tools"]}
    return [{"key": key, "name": name, "shortcut": shortcut} for key, name, shortcut, needs in TOOLS
            if needs is None or (may_edit and needs in used)]


def editor_context(spec: dict, may_edit: bool) -> dict:
    """What studio.html needs to lay out the editor for a recipe spec (also the workforce's queue mode)."""
    return {
        "tools": _tools(spec, may_edit),
        "drawn_labels": [label for label in spec["labels"] if set(label["tools"]) - {"classification"}],
        "has_classification": bool(spec.get("attributes")) or any(
            "classification" in label["tools"] for label in spec["labels"]),
        "has_mask": may_edit and any("mask" in label["tools"] for label in spec["labels"]),
    }


def _record_opened(*, org, actor, item) -> None:
    # Opening the studio is a read of the item even before its bytes are fetched.
    item_content_read(org=org, actor=actor, item=item, via="studio")


def _item_urls(org, item) -> dict:
    return {
        "id": item.pk,
        "name": item.name,
        "width": item.width,
        "height": item.height,
        "studio_url": reverse("annotations:studio", args=[org.slug, item.pk]),
        "content_url": reverse("api:item-content", args=[item.pk]) if item.blob_id else None,
        "annotations_url": reverse("api:item-annotations", args=[item.pk]),
        "changes_url": reverse("api:item-annotations-changes", args=[item.pk]),
    }


@require_GET
def studio(request, org_slug, item_id):
    org, actor = request.org, request.user
    item = access_item(org=org, actor=actor, item_id=item_id, scope="annotation.view")
    may_edit = has_scope(org=org, actor=actor, scope="annotation.change", obj=item.dataset)
    version = dataset_recipe_version(org=org, dataset=item.dataset)
    following = item_next(org=org, item=item)
    _record_opened(org=org, actor=actor, item=item)

    editable_item = item.kind == Item.Kind.IMAGE and item.blob_id is not None
    data = {
        "item": _item_urls(org, item),
        "recipe_version": {"id": version.pk, "number": version.number, "spec": version.spec} if version else None,
        "next_item": _item_urls(org, following) if following else None,
        "can_edit": may_edit,
        "item_page_url": reverse("datasets:item", args=[org.slug, item.pk]),
    }
    spec = version.spec if version else {"labels": [], "attributes": []}
    context = {
        "item": item,
        **editor_context(spec, may_edit),
        "dataset": item.dataset,
        "recipe_version": version,
        "next_item": following,
        "may_edit": may_edit,
        "editable_item": editable_item,
        "studio_data": data,
    }
    return render(request, "annotations/studio.html", context)
