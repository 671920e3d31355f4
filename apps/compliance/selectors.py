from dataclasses import replace

from django.db import connection, transaction
from django.db.models import QuerySet

from apps.tenancy.context import system_context

from .chain import BrokenLink, ChainReport, event_select, verify_links
from .models import AuditEvent, AuditPendingSeal

VERIFY_FETCH = 10_000


def audit_event_list(
    *, org, actor=None, actor_email: str = "", action: str = "", since=None, until=None, target_type: str = "",
    target_id: str = "",
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.for_org(org).select_related("link")
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


def _chain_rows(org_id: int | None, all_orgs: bool):
    where, params = ("", []) if all_orgs else (
        ("WHERE l.organization_id IS NULL", []) if org_id is None else ("WHERE l.organization_id = %s", [org_id])
    )
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT l.organization_id, l.sequence, l.prev_hash, l.hash, {event_select(connection.vendor)}"
            f" FROM compliance_auditchainlink l LEFT JOIN compliance_auditevent e ON e.id = l.event_id {where}"
            " ORDER BY l.organization_id NULLS FIRST, l.sequence",
            params,
        )
        while rows := cursor.fetchmany(VERIFY_FETCH):
            yield from rows


def _events_outside_the_chain(org_id: int | None, all_orgs: bool) -> list[tuple[int | None, int]]:
    """Events neither sealed nor waiting for their seal: inserted with the queueing trigger switched off."""
    events = AuditEvent.objects.filter(link__isnull=True).exclude(
        pk__in=AuditPendingSeal.objects.values("event_id")
    )
    if not all_orgs:
        events = events.filter(organization_id=org_id)
    return list(events.order_by("id").values_list("organization_id", "id")[:1])


def audit_chain_verify(*, org_id: int | None = None, all_orgs: bool = False) -> ChainReport:
    """Checks one organisation's chain (or every chain, platform included, with all_orgs).

    Reports the first broken link, an event that is outside the chain, and how many events still wait for their
    seal (those are not broken: seal first, as audit_chain_seal_and_verify does, to cover them).
    """
    with transaction.atomic(), system_context():
        report = verify_links(_chain_rows(org_id, all_orgs))
        pending = AuditPendingSeal.objects.all()
        if not all_orgs:
            pending = pending.filter(organization_id=org_id)
        report = replace(report, awaiting_seal=pending.count())
        if report.ok and (outside := _events_outside_the_chain(org_id, all_orgs)):
            stray_org, stray_id = outside[0]
            report = replace(report, broken=BrokenLink(
                stray_org, None, stray_id, f"event id {stray_id} is neither sealed nor waiting for its seal",
            ))
        return report
