from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "apps.quality"
    label = "quality"
    verbose_name = "Quality: agreement metrics, gold scores, annotator scores and thresholds"

    def ready(self):
        from apps.performance.reports import register_quality_source
        from apps.workforce.quality_hooks import register_quality_listener

        from . import query_facts
        from .selectors import quality_source
        from .services import evaluate_thresholds

        register_quality_source(quality_source)  # performance reports show this score
        register_quality_listener(evaluate_thresholds)  # a new gold score, review or consensus result is checked
        query_facts.register()  # work.* and quality.* in the item query language
