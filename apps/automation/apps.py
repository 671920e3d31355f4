from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "apps.automation"
    label = "automation"
    verbose_name = "Automation: model registry and inference"

    def ready(self):
        import dramatiq
        from django.conf import settings

        from apps.datasets.item_hooks import register_items_added_listener

        from .pipeline_engine import items_added_record
        from .queues import regional_queue

        register_items_added_listener(items_added_record)

        # Workers consume only queues their broker knows: declare every regional queue, so `make worker REGION=eu`
        # listens on default.eu before any actor of that queue exists.
        broker = dramatiq.get_broker()
        for region in settings.REGIONS:
            for base in ("default", "gpu"):
                broker.declare_queue(regional_queue(base, region))
