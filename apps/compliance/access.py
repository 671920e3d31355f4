from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import AuditEvent


def access_audit_event(*, org, actor, event_id, scope: str = "audit.view") -> AuditEvent:
    pk = parse_id(event_id)
    event = AuditEvent.objects.for_org(org).select_related("link").filter(pk=pk).first() if pk else None
    if event is None or not has_scope(org=org, actor=actor, scope=scope):
        deny_not_found(org=org, actor=actor, target_type="compliance.auditevent", target_id=event_id, scope=scope)
    return event
