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
    # Break-glass alerts for owners and compliance officers.
    "audit": "audit.view",
    "pipelines": "model.view",
}


def subscription_allowed(*, user, org_slug: str, topic: str, mfa_verified: bool | None = None) -> int | None:
    """The organisation id to join, or None when the user may not listen to this topic there. Where the
    organisation requires MFA, the socket's session must have been verified with it (`mfa_verified`; when not
    given, the user must at least have a confirmed device)."""
    scope = TOPIC_SCOPES.get(topic)
    org = organization_get_by_slug(org_slug)
    if scope is None or org is None:
        return None
    with tenant_context(org, user):
        reason = None
        if not has_scope(org=org, actor=user, scope=scope):
            reason = "websocket subscription refused"
        elif org.mfa_required:
            if mfa_verified is None:
                from apps.accounts.services import mfa_device_of

                mfa_verified = mfa_device_of(user) is not None
            if not mfa_verified:
                reason = "websocket subscription refused: the organisation requires MFA"
        if reason is not None:
            from apps.compliance.services import audit_denied

            audit_denied(org=org, actor=user, reason=reason, metadata={"topic": topic})
            return None
    return org.pk
