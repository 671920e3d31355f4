"""PostgreSQL row-level security for every tenant-owned table (DESIGN.md: the second wall)."""

from django.db import connections

POLICY_NAME = "tenant_isolation"
ORG_MATCH = (
    "organization_id = NULLIF(current_setting('app.current_org', true), '')::bigint"
    " OR current_setting('app.rls_bypass', true) = 'on'"
)


def tenant_models(app_config=None):
    from django.apps import apps

    models = app_config.get_models() if app_config is not None else apps.get_models()
    return [m for m in models if getattr(m, "tenancy", None) == "tenant" and m._meta.managed]


def policy_statements(model) -> list[str]:
    table = model._meta.db_table
    read = ORG_MATCH
    if model.rls_extra_read_condition:
        read = f"{ORG_MATCH} OR ({model.rls_extra_read_condition})"
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"',
        f'CREATE POLICY {POLICY_NAME} ON "{table}" USING ({read}) WITH CHECK ({ORG_MATCH})',
    ]


def apply_policies(app_config=None, using="default") -> int:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0
    models = tenant_models(app_config)
    with connection.cursor() as cursor:
        for model in models:
            for statement in policy_statements(model):
                cursor.execute(statement)
    return len(models)


def apply_policies_after_migrate(sender, app_config=None, using="default", **kwargs):
    apply_policies(app_config or sender, using=using)
