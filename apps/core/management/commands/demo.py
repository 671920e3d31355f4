"""Serves the embedded mode in one process: web (HTTP + websockets), a Dramatiq worker and the outbox relay.

What `make demo` runs after `migrate` and `seed_demo`. Production runs these as separate processes
(daphne, `rundramatiq`, `outbox_relay`); see README.md.
"""

import logging
import threading

import dramatiq
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils.module_loading import autodiscover_modules
from dramatiq.brokers.stub import StubBroker

from apps.core.outbox import relay_pending
from apps.core.periodic import run_due

logger = logging.getLogger(__name__)


class OutboxRelayThread(threading.Thread):
    """Runs the periodic jobs and sends pending outbox rows every `interval` seconds (what `manage.py outbox_relay`
    does in production)."""

    def __init__(self, interval: float = 2.0):
        super().__init__(name="outbox-relay", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                close_old_connections()
                try:
                    run_due()
                    relay_pending()
                except Exception:
                    logger.exception("Outbox relay pass failed; trying again in %s s", self.interval)
                self.stopping.wait(self.interval)
        finally:
            connection.close()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.join(timeout)


class Command(BaseCommand):
    help = "Runs the embedded demo: web server, an in-process Dramatiq worker and the outbox relay."

    requires_system_checks = []  # runserver runs them

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument("--worker-threads", type=int, default=2, help="Threads of the in-process worker.")
        parser.add_argument("--relay-interval", type=float, default=2.0, help="Seconds between outbox relay passes.")

    def handle(self, *args, addr, port, worker_threads, relay_interval, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                "manage.py demo is the embedded mode; in production run daphne, rundramatiq and outbox_relay."
            )
        autodiscover_modules("tasks")  # registers every app's actors with the broker
        broker = dramatiq.get_broker()
        if not isinstance(broker, StubBroker):
            self.stdout.write(
                f"Note: the broker is {type(broker).__name__} (REDIS_URL is set); the in-process worker shares "
                "its queues with any other worker."
            )
        worker = dramatiq.Worker(broker, worker_threads=worker_threads)
        relay = OutboxRelayThread(interval=relay_interval)
        queues = ", ".join(sorted(q for q in broker.get_declared_queues() if "." not in q)) or "none yet"
        self.stdout.write(
            f"In-process Dramatiq worker: {worker_threads} thread(s) on queues {queues}; outbox relay every "
            f"{relay_interval:g} s."
        )
        worker.start()
        relay.start()
        host = f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr
        try:
            # daphne is first in INSTALLED_APPS, so runserver is its ASGI server (HTTP + websockets).
            # Its signal handlers stop the server on Ctrl-C and SIGTERM.
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            self.stdout.write("Stopping the outbox relay and the worker...")
            relay.stop()
            worker.stop(timeout=10_000)
            self.stdout.write("Stopped.")
