from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "apps.annotations"
    label = "annotations"
    verbose_name = "Annotations"

    def ready(self):
        from . import query_facts, version_section

        query_facts.register()  # annotations.label / .type / .source / .count in the item query language
        version_section.register()  # the annotations section of dataset versions
