import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from django.db import connection, transaction
from django.db.models import QuerySet

from apps.tenancy.context import system_context

from .chain import PG_VERIFY_SQL, BrokenLink, ChainReport, broken_link_of, event_select, verify_links
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


def _link_scope(org_id: int | None, all_orgs: bool) -> tuple[str, list]:
    if all_orgs:
        return "TRUE", []
    return ("l.organization_id IS NULL", []) if org_id is None else ("l.organization_id = %s", [org_id])


def _chain_rows(org_id: int | None, all_orgs: bool):
    where, params = _link_scope(org_id, all_orgs)
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT l.organization_id, l.sequence, l.prev_hash, l.hash, {event_select(connection.vendor)}"
            f" FROM compliance_auditchainlink l LEFT JOIN compliance_auditevent e ON e.id = l.event_id WHERE {where}"
            " ORDER BY l.organization_id NULLS FIRST, l.sequence",
            params,
        )
        while rows := cursor.fetchmany(VERIFY_FETCH):
            yield from rows


VERIFY_CHUNK = 250_000  # links per statement when one chain is checked by several connections at once


def _first_broken_in(where: str, params: list, *, after: int | None = None) -> BrokenLink | None:
    """The first broken link of the rows `where` selects; with `after`, rows up to that sequence only serve as the
    link before the next one (a chunk starts one row early to compare across its edge)."""
    with connection.cursor() as cursor:
        if after is None:
            cursor.execute(PG_VERIFY_SQL.format(where=where), params)
        else:
            cursor.execute(f"SELECT * FROM ({PG_VERIFY_SQL.format(where=where).replace('LIMIT 1', '')}) broken"
                           " WHERE sequence > %s ORDER BY sequence LIMIT 1", [*params, after])
        row = cursor.fetchone()
    return broken_link_of(row) if row else None


def _chunk_in_own_connection(org_id: int, first: int, last: int) -> BrokenLink | None:
    try:
        with transaction.atomic(), system_context():
            return _first_broken_in("l.organization_id = %s AND l.sequence BETWEEN %s AND %s",
                                    [org_id, max(first - 1, 1), last], after=first - 1 if first > 1 else None)
    finally:
        connection.close()


def _verify_in_postgresql(org_id: int | None, all_orgs: bool) -> ChainReport:
    """The whole check in SQL (chain.PG_VERIFY_SQL): the database hashes, Python reads one row. One organisation's
    long chain is split into chunks checked at once on as many connections as there are cores."""
    where, params = _link_scope(org_id, all_orgs)
    with connection.cursor() as cursor:
        if all_orgs:
            cursor.execute(
                f"SELECT count(*), count(DISTINCT coalesce(l.organization_id, 0)), max(l.sequence)"
                f" FROM compliance_auditchainlink l WHERE {where}", params,
            )
            checked, chains, last = cursor.fetchone()
        else:
            # One chain: its last sequence from the index; a chain that verifies holds exactly 1..last, so the
            # links are counted only when it does not.
            cursor.execute(f"SELECT max(l.sequence) FROM compliance_auditchainlink l WHERE {where}", params)
            last = cursor.fetchone()[0] or 0
            checked, chains = last, 1 if last else 0
    workers = min(os.cpu_count() or 1, 8)
    if all_orgs or org_id is None or not last or last <= VERIFY_CHUNK or workers == 1:
        broken = _first_broken_in(where, params)
    else:
        chunks = [(start, min(start + VERIFY_CHUNK - 1, last)) for start in range(1, last + 1, VERIFY_CHUNK)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = list(pool.map(lambda chunk: _chunk_in_own_connection(org_id, *chunk), chunks))
        # A link deleted at a chunk's very end shows as the next chunk's gap; the first failure in order wins.
        broken = next((b for b in found if b), None)
    if broken:
        if not all_orgs:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM compliance_auditchainlink l WHERE {where}", params)
                checked = cursor.fetchone()[0]
        return ChainReport(checked, chains, broken)
    head = None
    if not all_orgs:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT l.hash FROM compliance_auditchainlink l WHERE {where}"
                           " ORDER BY l.sequence DESC LIMIT 1", params)
            head = (cursor.fetchone() or [None])[0]
    return ChainReport(checked, chains, None, head_hash=head)


def _every_event_accounted_for(org_id: int | None, all_orgs: bool, *, linked: int) -> bool:
    """Whether the events number the links just verified plus those waiting for their seal: then none is outside the
    chain, and the search for one (an anti-join over every event, seconds on a long chain) is skipped. Verified links
    each seal a distinct event that exists (the unique event_id, the check for a missing one); a waiting row counts
    only where its event exists."""
    events = AuditEvent.objects.all()
    pending = AuditPendingSeal.objects.filter(event_id__in=AuditEvent.objects.values("pk"))
    if not all_orgs:
        events, pending = events.filter(organization_id=org_id), pending.filter(organization_id=org_id)
    return events.count() == linked + pending.count()


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
        if connection.vendor == "postgresql":
            report = _verify_in_postgresql(org_id, all_orgs)
        else:
            report = verify_links(_chain_rows(org_id, all_orgs))
        pending = AuditPendingSeal.objects.all()
        if not all_orgs:
            pending = pending.filter(organization_id=org_id)
        report = replace(report, awaiting_seal=pending.count())
        if report.ok and not _every_event_accounted_for(org_id, all_orgs, linked=report.events_checked) and (
                outside := _events_outside_the_chain(org_id, all_orgs)):
            stray_org, stray_id = outside[0]
            report = replace(report, broken=BrokenLink(
                stray_org, None, stray_id, f"event id {stray_id} is neither sealed nor waiting for its seal",
            ))
        return report
