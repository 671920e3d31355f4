"""Where the workforce tells other apps that a person submitted an annotate unit, inside the submit's transaction
and before its layer is promoted or scored (automation records what the person did with the model's suggestions).
Listeners register from their AppConfig.ready(), so the workforce never imports them."""

from collections.abc import Callable

_listeners: list[Callable] = []


def register_unit_submitted_listener(listener: Callable) -> None:
    """`listener(org=Organization, actor=User, item=Item, layer=int, at=datetime)`; it must be idempotent (a unit
    sent back after a review is submitted again)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unit_submitted(*, unit, actor) -> None:
    for listener in _listeners:
        listener(org=unit.organization, actor=actor, item=unit.item, layer=unit.layer_id, at=unit.submitted_at)
