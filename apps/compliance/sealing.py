"""Sealing: chaining the events that writers appended without waiting for each other.

Writers insert audit events in their own transactions and take no lock, so audited writes never serialise on the
chain; a trigger queues each new event in AuditPendingSeal. One sealer per chain at a time (a PostgreSQL advisory
lock per organisation) reads the queue in event-id order, computes the links and writes them with the queue rows'
removal in one transaction. It runs:
- right after the writing transaction commits (`schedule_seal`), unless a seal of the same chain was started less
  than AUDIT_SEAL_DEBOUNCE_SECONDS ago (by this process, or by any through the shared cache) or another sealer
  holds the chain's lock: under load one seal covers many writers' events instead of every writer paying for its
  own;
- from the periodic sweep in the outbox relay (apps/compliance/tasks.py), for anything left behind, so an event
  waits at most about the relay's interval;
- before every verification, so a verified chain covers every committed event.
"""

import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from apps.tenancy.context import system_context

from .chain import event_select, link_hash, link_hash_of_array, pg_event_array
from .models import GENESIS_HASH, AuditChainLink, AuditPendingSeal

logger = logging.getLogger(__name__)

_CHAIN_LOCK_NAMESPACE = 0x617564  # "aud"
SEAL_BATCH = 5000
SEAL_SCAN = 200_000


def _lock_chain(org_id: int | None, *, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite has one writer at a time
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_CHAIN_LOCK_NAMESPACE, org_id or 0])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_CHAIN_LOCK_NAMESPACE, org_id or 0])
        return cursor.fetchone()[0]


def _pending_ids(org_id: int | None, limit: int) -> list[int]:
    """The oldest event ids of the chain's queue. One query per SEAL_SCAN ids, whatever the planner thinks of the
    queue's size (a LIMIT per batch over a fresh backlog of a million rows sorted it all each time)."""
    with transaction.atomic(), system_context():
        return list(AuditPendingSeal.objects.filter(organization_id=org_id).order_by("event_id")
                    .values_list("event_id", flat=True)[:limit])


def _claim(event_ids: list[int]) -> list[int]:
    """Takes the events off the queue and returns those that were still on it (another sealer may have been first)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM compliance_auditpendingseal WHERE event_id = ANY(string_to_array(%s, ',')::bigint[])"
                " RETURNING event_id", [",".join(map(str, event_ids))],
            )
            return sorted(row[0] for row in cursor.fetchall())
    claimed = sorted(AuditPendingSeal.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
    AuditPendingSeal.objects.filter(event_id__in=claimed).delete()
    return claimed


def _event_rows(event_ids: list[int]) -> list[tuple]:
    """(id, the event's hashed values) per event in id order: on PostgreSQL the values as one JSON array text the
    database writes (chain.pg_event_array), elsewhere as a row."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT e.id, {pg_event_array()} FROM compliance_auditevent e"
                " WHERE e.id = ANY(string_to_array(%s, ',')::bigint[]) ORDER BY e.id", [",".join(map(str, event_ids))],
            )
            return cursor.fetchall()
        else:
            marks = ",".join("%s" for _ in event_ids)
            cursor.execute(f"SELECT {event_select(connection.vendor)} FROM compliance_auditevent e"
                           f" WHERE e.id IN ({marks}) ORDER BY e.id", event_ids)
            return [(row[0], row) for row in cursor.fetchall()]


def _seal_batch(org_id: int | None, event_ids: list[int], *, wait: bool) -> int | None:
    """Seals those of the events still waiting; None where another sealer holds the chain."""
    with transaction.atomic(), system_context():
        if not _lock_chain(org_id, wait=wait):
            return None
        claimed = _claim(event_ids)
        if not claimed:
            return 0
        rows = _event_rows(claimed)
        head = (
            AuditChainLink.objects.filter(organization_id=org_id).order_by("-sequence")
            .values_list("sequence", "hash").first()
        )
        sequence, prev = head if head else (0, GENESIS_HASH)
        sequences, prev_hashes, hashes = [], [], []
        for _event_id, values in rows:
            sequence += 1
            digest = link_hash_of_array(prev, sequence, values) if isinstance(values, str) else \
                link_hash(prev, sequence, values)
            sequences.append(sequence)
            prev_hashes.append(prev)
            hashes.append(digest)
            prev = digest
        _write_links(org_id, [event_id for event_id, _values in rows], sequences, prev_hashes, hashes)
        return len(rows)


def _write_links(org_id, event_ids, sequences, prev_hashes, hashes) -> None:
    if connection.vendor == "postgresql":
        # Each column travels as one comma-joined text: psycopg would otherwise inspect every array element.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO compliance_auditchainlink"
                " (organization_id, event_id, sequence, prev_hash, hash, sealed_at)"
                " SELECT %s, *, now() FROM unnest(string_to_array(%s, ',')::bigint[],"
                " string_to_array(%s, ',')::bigint[], string_to_array(%s, ','), string_to_array(%s, ','))",
                [org_id, ",".join(map(str, event_ids)), ",".join(map(str, sequences)), ",".join(prev_hashes),
                 ",".join(hashes)],
            )
        return
    AuditChainLink.objects.bulk_create([
        AuditChainLink(organization_id=org_id, event_id=e, sequence=s, prev_hash=p, hash=h)
        for e, s, p, h in zip(event_ids, sequences, prev_hashes, hashes, strict=True)
    ], batch_size=500)


def seal_pending(org_id: int | None, *, wait: bool = True) -> int:
    """Chains every event of the organisation (None: the platform chain) queued for sealing; returns how many.

    With wait=False it gives up at once where another sealer holds the chain (that one, or the sweep, seals them).
    """
    total = 0
    while ids := _pending_ids(org_id, SEAL_SCAN):
        for start in range(0, len(ids), SEAL_BATCH):
            sealed = _seal_batch(org_id, ids[start:start + SEAL_BATCH], wait=wait)
            if sealed is None:
                return total
            total += sealed
        if len(ids) < SEAL_SCAN:
            return total
    return total


def chains_awaiting_seal() -> list[int | None]:
    """The organisations (None: the platform chain) with events waiting for their seal."""
    with system_context():
        return list(AuditPendingSeal.objects.order_by().values_list("organization_id", flat=True).distinct())


_last_seal_started: dict[int | None, float] = {}
_last_seal_lock = threading.Lock()


def _seal_due(org_id: int | None) -> bool:
    """True where neither this process nor (through the shared cache) any other has started a seal of the chain
    within the debounce interval; the seal is then noted as started. Per process alone, N processes would seal N
    times an interval, each a small batch at a seal's fixed cost (bench/audit_chain.py --processes)."""
    debounce = settings.AUDIT_SEAL_DEBOUNCE_SECONDS
    now = time.monotonic()
    with _last_seal_lock:
        if now - _last_seal_started.get(org_id, -1e9) < debounce:
            return False
        _last_seal_started[org_id] = now
    if debounce <= 0:
        return True
    try:  # an atomic add (SET NX with expiry on Redis): one process an interval wins; whole seconds only
        return cache.add(f"dlsaas:audit-seal:{org_id or 0}", 1, timeout=max(1, math.ceil(debounce)))
    except Exception:  # the cache is down: seal anyway (sealers queue on the chain's lock, nothing is lost)
        logger.warning("Shared audit seal debounce unavailable; sealing without it", exc_info=True)
        return True


def schedule_seal(org_id: int | None, conn=None) -> None:
    """Seals the organisation's pending events once the current transaction commits (at once outside one)."""
    conn = conn or connections[DEFAULT_DB_ALIAS]
    if not conn.in_atomic_block and conn.get_autocommit():
        # Committed already (the hottest case: an event written alone). Most calls end at the debounce check.
        _seal_now({org_id})
        return
    orgs = getattr(conn, "_audit_chains_to_seal", None)
    if orgs is not None and any(callback is _seal_scheduled for _, callback, _ in conn.run_on_commit):
        orgs.add(org_id)
        return
    conn._audit_chains_to_seal = {org_id}
    conn.on_commit(_seal_scheduled, robust=True)


def _seal_scheduled() -> None:
    conn = connections[DEFAULT_DB_ALIAS]
    orgs = getattr(conn, "_audit_chains_to_seal", None) or set()
    conn._audit_chains_to_seal = None
    _seal_now(orgs)


def _seal_now(orgs) -> None:
    for org_id in orgs:
        if not _seal_due(org_id):
            continue
        try:
            seal_pending(org_id, wait=False)
        except Exception:  # as a robust commit hook: the write stands, the sweep seals it later
            logger.exception("Sealing the audit chain of %s after commit failed", org_id or "the platform")
