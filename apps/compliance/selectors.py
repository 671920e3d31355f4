from django.db.models import QuerySet

from apps.tenancy.context import system_context

from .chain import ChainReport, verify_events
from .models import AuditEvent


def audit_event_list(
    *, org, actor=None, actor_email: str = "", action: str = "", since=None, until=None, target_type: str = "",
    target_id: str = "",
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.for_org(org).select_related(None)
    if actor_email:
        qs = qs.filter(actor_label__iexact=actor_email.strip())
    if action:
        qs = qs.filter(action__startswith=action.strip()) if action.endswith(".") else qs.filter(action=action.strip())
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=str(target_id))
    return qs


def audit_chain_verify(*, org_id: int | None = None, all_orgs: bool = False) -> ChainReport:
    """Checks one organisation's chain (or every chain, platform included, with all_orgs)."""
    with system_context():
        qs = AuditEvent.objects.all() if all_orgs else AuditEvent.objects.filter(organization_id=org_id)
        return verify_events(qs.order_by("organization_id", "sequence").iterator(chunk_size=2000))
