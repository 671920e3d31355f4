"""Who may read and write which annotations of an item, beyond the dataset-wide scopes.

The item's shared annotations (layer None) follow the dataset: `annotation.view` / `annotation.change` by role
or django-guardian grant. Apps that hand out work (workforce) add what a unit of work opens: its holder may write
the unit's layer, or the shared annotations of the unit's item while the lease lives. They register a guard here
(from their AppConfig.ready), so this app never imports them.

A guard is `guard(*, org, actor, item, layer, write) -> bool`; a layer resolver is
`resolver(*, org, item, layer) -> bool` answering whether `layer` names a layer of this item.
"""

from collections.abc import Callable

from apps.tenancy.permissions import has_scope

GUARDS: list[Callable[..., bool]] = []
LAYER_RESOLVERS: list[Callable[..., bool]] = []


def register_guard(guard: Callable[..., bool]) -> None:
    if guard not in GUARDS:
        GUARDS.append(guard)


def register_layer_resolver(resolver: Callable[..., bool]) -> None:
    if resolver not in LAYER_RESOLVERS:
        LAYER_RESOLVERS.append(resolver)


def layer_exists(*, org, item, layer: int | None) -> bool:
    return layer is None or any(resolver(org=org, item=item, layer=layer) for resolver in LAYER_RESOLVERS)


def may_use_annotations(*, org, actor, item, layer: int | None, write: bool) -> bool:
    scope = "annotation.change" if write else "annotation.view"
    if has_scope(org=org, actor=actor, scope=scope, obj=item.dataset):
        return layer_exists(org=org, item=item, layer=layer)
    return any(guard(org=org, actor=actor, item=item, layer=layer, write=write) for guard in GUARDS)
