from django.apps import AppConfig


class WorkforceConfig(AppConfig):
    name = "apps.workforce"
    label = "workforce"
    verbose_name = "Workforce: tasks and units of work"
