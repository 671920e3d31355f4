"""The hash chain of the audit trail: how an event's hash is computed, and how a chain is checked."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder

from .models import GENESIS_HASH, AuditEvent

HASHED_FIELDS = (
    "organization_id",
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_user_id",
    "actor_token_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "metadata",
    "ip",
    "user_agent",
    "request_id",
)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False)


def normalise_json(value):
    """What a JSON column gives back, so the hash is computed over what is stored."""
    return None if value is None else json.loads(canonical_json(value))


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    payload = {name: getattr(event, name) for name in HASHED_FIELDS}
    payload["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    organization_id: int | None
    sequence: int
    event_id: int
    reason: str

    def __str__(self) -> str:
        chain = f"organisation {self.organization_id}" if self.organization_id else "the platform chain"
        return f"Broken link in {chain} at sequence {self.sequence} (event id {self.event_id}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    chains_checked: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_events(events: Iterable[AuditEvent]) -> ChainReport:
    """Walks events ordered by (organisation, sequence) and returns the first broken link, if any."""
    checked = chains = 0
    current_org = object()
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for event in events:
        if event.organization_id != current_org:
            current_org = event.organization_id
            chains += 1
            expected_prev, expected_seq = GENESIS_HASH, 1
        checked += 1
        broken = None
        if event.sequence != expected_seq:
            broken = f"expected sequence {expected_seq}, found {event.sequence} (an event is missing or inserted)"
        elif event.prev_hash != expected_prev:
            broken = "its previous-hash does not match the event before it"
        elif event_hash(event, event.prev_hash) != event.hash:
            broken = "its contents do not match its hash (the row was changed)"
        if broken:
            return ChainReport(
                checked, chains, BrokenLink(event.organization_id, event.sequence, event.pk, broken)
            )
        expected_prev, expected_seq = event.hash, event.sequence + 1
    return ChainReport(checked, chains, None)
