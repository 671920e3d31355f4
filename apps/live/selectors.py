from apps.tenancy.context import tenant_context
from apps.tenancy.permissions import has_scope
from apps.tenancy.selectors import organization_get_by_slug

# Which scope a page needs to listen to each topic.
TOPIC_SCOPES = {
    "members": "member.view",
    "imports": "dataset.view",
    "exports": "annotation.export",
    "annotation-imports": "annotation.change",
    "recipes": "recipe.manage",
    "dataset_versions": "item.view",
    "tasks": "task.view",
    "pipelines": "model.view",
}


def subscription_allowed(*, user, org_slug: str, topic: str) -> int | None:
    """The organisation id to join, or None when the user may not listen to this topic there."""
    scope = TOPIC_SCOPES.get(topic)
    org = organization_get_by_slug(org_slug)
    if scope is None or org is None:
        return None
    with tenant_context(org, user):
        if not has_scope(org=org, actor=user, scope=scope):
            from apps.compliance.services import audit_denied

            audit_denied(org=org, actor=user, reason="websocket subscription refused", metadata={"topic": topic})
            return None
    return org.pk
