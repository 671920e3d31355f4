from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "apps.workforce"
    label = "workforce"
    verbose_name = "Workforce: tasks and units of work"

    def ready(self):
        from apps.annotations.layers import register_guard, register_layer_resolver
        from apps.datasets.content_guards import register_content_guard

        from .annotation_layers import unit_content_guard, unit_guard, unit_layer_exists

        register_guard(unit_guard)  # a unit's holder may annotate in the unit's layer
        register_layer_resolver(unit_layer_exists)
        register_content_guard(unit_content_guard)  # ... and read the unit's item
