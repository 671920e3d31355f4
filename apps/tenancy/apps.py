from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenancyConfig(AppConfig):
    name = "apps.tenancy"
    label = "tenancy"
    verbose_name = "Organisations and membership"

    def ready(self):
        from apps.core.request_context import register_audit_metadata_hook

        from . import rls
        from .permissions import tag_break_glass

        # Every app's tenant tables get their row-level security policy after each migrate,
        # so a new tenant model is protected without anyone remembering to add it.
        post_migrate.connect(rls.apply_policies_after_migrate, dispatch_uid="tenancy.rls")
        # Every audit event a member causes during a break-glass elevation carries metadata.break_glass.
        register_audit_metadata_hook(tag_break_glass)
