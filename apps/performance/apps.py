from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "apps.performance"
    label = "performance"
    verbose_name = "Performance: throughput, time, quality and cost reports"
