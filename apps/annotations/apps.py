from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "apps.annotations"
    label = "annotations"
    verbose_name = "Annotations"

    def ready(self):
        from .version_section import register

        register()
