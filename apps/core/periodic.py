"""Periodic jobs: small functions that run every N seconds in the outbox relay's loop and enqueue actors.

Register with `@every(seconds)` in an app's tasks.py. A job decides what is due (usually: which organisations
have work) and enqueues one message per organisation, so the work itself runs on the workers, scoped and
idempotent like any other actor. The relay is the one process that is always running beside the workers.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)


@dataclass
class PeriodicJob:
    name: str
    seconds: float
    fn: Callable[[], None]
    next_run: float = field(default=0.0)


JOBS: dict[str, PeriodicJob] = {}


def every(seconds: float):
    def register(fn):
        name = f"{fn.__module__}.{fn.__qualname__}"
        JOBS[name] = PeriodicJob(name, seconds, fn)
        return fn

    return register


def run_due(now: float | None = None) -> list[str]:
    """Runs the jobs whose time has come; returns their names. A failing job is logged and retried next time."""
    now = time.monotonic() if now is None else now
    ran = []
    for job in JOBS.values():
        if job.next_run > now:
            continue
        job.next_run = now + job.seconds
        try:
            with transaction.atomic():
                job.fn()
            ran.append(job.name)
        except DatabaseError:
            logger.exception("Periodic job %s failed; it runs again in %s s", job.name, job.seconds)
    return ran
