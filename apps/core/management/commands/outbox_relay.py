import logging
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from django.utils.module_loading import autodiscover_modules

from apps.core.outbox import relay_pending
from apps.core.periodic import run_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = ("Sends pending outbox messages to the broker and runs the periodic jobs (apps/core/periodic.py); "
            "run continuously beside the workers.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is pending and exit.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls.")

    def handle(self, *args, once=False, interval=2.0, **options):
        autodiscover_modules("tasks")  # periodic jobs register in the apps' tasks modules
        while True:
            try:
                run_due()
                sent = relay_pending()
            except DatabaseError as exc:
                if once:
                    raise
                # The database is briefly away (restart, failover): keep polling rather than exit.
                logger.warning("Outbox relay could not read the outbox: %s", exc)
                close_old_connections()
                sent = 0
            if sent:
                self.stdout.write(f"sent {sent} message(s)")
            if once:
                return
            time.sleep(interval)
