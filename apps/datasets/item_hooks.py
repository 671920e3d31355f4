"""Who hears that items were added to a dataset, or that their metadata or folder changed.

Apps that react to new items (automation's item-added triggers) register a listener here from their
AppConfig.ready, so this app never imports them (the same shape as content_guards.py).

A listener is `listener(*, org_id, dataset_id, item_ids)`. It is called inside the transaction that makes the items
ready (uploaded, unpacked from a zip, fetched from a URL or a manifest row), so whatever it records commits or rolls
back with the items themselves; it must only record and enqueue (apps.core.outbox), never do slow work, and it is
called again for the same items when a delivery is repeated, so it must be idempotent.
"""

from collections.abc import Callable

LISTENERS: list[Callable[..., None]] = []
CHANGED_LISTENERS: list[Callable[..., None]] = []


def register_items_added_listener(listener: Callable[..., None]) -> None:
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def items_added(*, org_id: int, dataset_id: int, item_ids: list[int]) -> None:
    """Tells every listener that these items of this dataset are ready (call inside the creating transaction)."""
    if not item_ids:
        return
    for listener in LISTENERS:
        listener(org_id=org_id, dataset_id=dataset_id, item_ids=list(item_ids))


def register_items_changed_listener(listener: Callable[..., None]) -> None:
    """`listener(*, org_id, dataset_id, item_ids)`, the same rules as an items-added listener; item_ids is None when
    any number of the dataset's items changed at once (a bulk update): the listener then queues its own scan."""
    if listener not in CHANGED_LISTENERS:
        CHANGED_LISTENERS.append(listener)


def items_changed(*, org_id: int, dataset_id: int, item_ids: list[int] | None) -> None:
    """Tells every listener that these items' metadata or folder changed (call inside the changing transaction)."""
    if item_ids is not None and not item_ids:
        return
    for listener in CHANGED_LISTENERS:
        listener(org_id=org_id, dataset_id=dataset_id, item_ids=None if item_ids is None else list(item_ids))
