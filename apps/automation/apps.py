from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "apps.automation"
    label = "automation"
    verbose_name = "Automation: model registry and inference"

    def ready(self):
        import dramatiq
        from django.conf import settings

        from apps.core.queues import regional_queue
        from apps.datasets.item_hooks import register_items_added_listener, register_items_changed_listener

        from .pipeline_triggers import items_added_record, items_changed_record

        register_items_added_listener(items_added_record)
        register_items_changed_listener(items_changed_record)

        from apps.annotations.change_hooks import register_annotations_changed_listener

        from .agreement import on_annotations_changed

        register_annotations_changed_listener(on_annotations_changed)

        from apps.workforce.unit_hooks import register_unit_submitted_listener

        from .agreement import on_unit_submitted

        register_unit_submitted_listener(on_unit_submitted)

        from . import query_facts

        query_facts.register()  # pipeline.run in the item query language

        # Workers consume only queues their broker knows: declare every regional queue, so `make worker REGION=eu`
        # listens on default.eu before any actor of that queue exists.
        broker = dramatiq.get_broker()
        for region in settings.REGIONS:
            for base in ("default", "gpu"):
                broker.declare_queue(regional_queue(base, region))
