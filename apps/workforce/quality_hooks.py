"""Where the workforce tells the quality app that a person's evidence changed (a gold score, a review decision, a
consensus result), inside the transaction that recorded it. The quality app registers its listener in
QualityConfig.ready(), so the workforce never imports it (quality imports workforce, not the other way round)."""

from collections.abc import Callable

_listeners: list[Callable] = []


def register_quality_listener(listener: Callable) -> None:
    """`listener(task=Task, user_ids=[...])`."""
    if listener not in _listeners:
        _listeners.append(listener)


def evidence_recorded(*, task, user_ids) -> None:
    user_ids = sorted({u for u in user_ids if u is not None})
    if not user_ids:
        return
    for listener in _listeners:
        listener(task=task, user_ids=user_ids)
