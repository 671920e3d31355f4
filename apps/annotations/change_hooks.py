"""Who hears that an item's annotations changed through annotations_change (the studio's saves, the API's single
and bulk routes, imports) or annotations_replace_many (a model batch's suggestions: called once per item).

Apps that react to a person's changes (automation's suggestion outcomes) register a listener here from their
AppConfig.ready, so this app never imports them (the same shape as apps/datasets/item_hooks.py).

A listener is `listener(*, org, actor, item, layer, changes, at)` where `changes` is a list of
(annotation id, state before or None for a creation, state after or None for a deletion), each state a
selectors.snapshot. It is called inside the change's transaction, after its revisions are written, so what it
records commits or rolls back with the change; it must stay quick and idempotent.
"""

from collections.abc import Callable

LISTENERS: list[Callable[..., None]] = []


def register_annotations_changed_listener(listener: Callable[..., None]) -> None:
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def annotations_changed(*, org, actor, item, layer, changes: list[tuple[int, dict | None, dict | None]], at) -> None:
    if not changes:
        return
    for listener in LISTENERS:
        listener(org=org, actor=actor, item=item, layer=layer, changes=changes, at=at)
