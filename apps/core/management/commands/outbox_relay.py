import time

from django.core.management.base import BaseCommand

from apps.core.outbox import relay_pending


class Command(BaseCommand):
    help = "Sends pending outbox messages to the broker (run continuously beside the workers)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Send what is pending and exit.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls.")

    def handle(self, *args, once=False, interval=2.0, **options):
        while True:
            sent = relay_pending()
            if sent:
                self.stdout.write(f"sent {sent} message(s)")
            if once:
                return
            time.sleep(interval)
