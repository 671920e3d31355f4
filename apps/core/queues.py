"""Queues per residency region: an organisation's work (inference above all) runs only on workers of its own region.

Kept in core because the apps that enqueue (automation) and the ones that report where data and work live
(compliance's residency page) both name them.

A regional queue is `<base>.<region>` (`gpu.eu`, `default.us`); `make gpu-worker REGION=eu` serves `gpu.eu` alone.
Dramatiq binds an actor to one queue, so each regional actor is registered once per configured region under its
own name (`preannotate_items__eu`), and callers pick the one of the organisation's region.
"""

import re

from django.conf import settings


def region_suffix(region: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", region.lower())


def regional_queue(base: str, region: str) -> str:
    return f"{base}.{region_suffix(region)}"


def regional_actor_name(name: str, region: str) -> str:
    return f"{name}__{region_suffix(region)}"


def regional_actors(fn, *, name: str, base_queue: str, **options) -> dict:
    """{region: actor} for every configured region, each on `<base_queue>.<region>`."""
    import dramatiq

    return {region: dramatiq.actor(fn, actor_name=regional_actor_name(name, region),
                                   queue_name=regional_queue(base_queue, region), **options)
            for region in settings.REGIONS}
