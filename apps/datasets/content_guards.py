"""Who may read an item's bytes beyond the dataset-wide `item.view` scope.

The item's content follows the dataset: `item.view` by role or django-guardian grant. Apps that hand out work
(workforce) add what a unit of work opens: the holder of a live unit on the item (annotating or reviewing it) may
read that one item while the unit is theirs. They register a guard here from their AppConfig.ready, so this app
never imports them (the same shape as apps/annotations/layers.py).

A guard is `guard(*, org, actor, item) -> str | None`: None when it grants nothing, else a few words naming the
grant (e.g. "work item 12"), recorded with the audited read.
"""

from collections.abc import Callable

GUARDS: list[Callable[..., str | None]] = []


def register_content_guard(guard: Callable[..., str | None]) -> None:
    if guard not in GUARDS:
        GUARDS.append(guard)


def content_grant(*, org, actor, item) -> str | None:
    """What, beyond the dataset's scopes, lets `actor` read this item's content now (None: nothing)."""
    if getattr(actor, "pk", None) is None:
        return None
    for guard in GUARDS:
        grant = guard(org=org, actor=actor, item=item)
        if grant:
            return grant
    return None
