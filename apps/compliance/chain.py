"""The hash chain of the audit trail: what a link's hash covers, and how a chain is checked.

    link.hash = sha256(link.prev_hash + JSON array [link.sequence, *the event's EVENT_COLUMNS])

The array is orjson's compact encoding of the values exactly as the database returns them through `event_select`:
numbers, text or null, with the time as UTC ISO 8601 text with microseconds and the JSON columns as their stored
JSON text. Nothing is re-formatted in Python, so the sealer (which writes the links) and the verifier (which
recomputes them) cannot disagree, and an export that carries the same values lets a third party recompute every
hash with a few lines of any language.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from .models import GENESIS_HASH

# The event's fields a link covers, in the order they are hashed.
EVENT_COLUMNS = (
    "id",
    "organization_id",
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
_JSON_COLUMNS = frozenset({"before", "after", "metadata"})
# As text from PostgreSQL; SQLite (the embedded demo) gives its stored text for all of them anyway.
_PG_EXPRESSIONS = {
    "occurred_at": "to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
    "ip": "host(e.ip)",
    **{name: f"e.{name}::text" for name in _JSON_COLUMNS},
}


def event_select(vendor: str) -> str:
    """The SELECT list of an event's hashed columns, from a table aliased `e`."""
    if vendor == "postgresql":
        return ", ".join(_PG_EXPRESSIONS.get(name, f"e.{name}") for name in EVENT_COLUMNS)
    return ", ".join(f"e.{name}" for name in EVENT_COLUMNS)


def link_payload(sequence: int, event_row: Sequence) -> bytes:
    return orjson.dumps((sequence, *event_row))


def link_hash(prev_hash: str, sequence: int, event_row: Sequence) -> str:
    return hashlib.sha256(prev_hash.encode() + link_payload(sequence, event_row)).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    organization_id: int | None
    sequence: int | None
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        chain = f"organisation {self.organization_id}" if self.organization_id else "the platform chain"
        where = f"at sequence {self.sequence} (event id {self.event_id})" if self.sequence else "outside the chain"
        return f"Broken link in {chain} {where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    chains_checked: int
    broken: BrokenLink | None
    awaiting_seal: int = 0
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_links(rows: Iterable[Sequence]) -> ChainReport:
    """Walks (organization_id, sequence, prev_hash, hash, *event columns) rows ordered by organisation and sequence,
    and returns the first broken link, if any. A row whose event columns are all None lost its event."""
    checked = chains = 0
    current_org = object()
    expected_prev = GENESIS_HASH
    expected_seq = 1
    sha256, dumps = hashlib.sha256, orjson.dumps
    for row in rows:
        org_id, sequence, prev_hash, digest = row[0], row[1], row[2], row[3]
        event = row[4:]
        if org_id != current_org:
            current_org = org_id
            chains += 1
            expected_prev, expected_seq = GENESIS_HASH, 1
        checked += 1
        broken = None
        if sequence != expected_seq:
            broken = f"expected sequence {expected_seq}, found {sequence} (a link is missing or inserted)"
        elif prev_hash != expected_prev:
            broken = "its previous-hash does not match the link before it"
        elif event[0] is None:
            broken = "the event it seals is gone (a row was deleted)"
        elif sha256(prev_hash.encode() + dumps((sequence, *event))).hexdigest() != digest:
            broken = "its contents do not match its hash (the row was changed)"
        if broken:
            return ChainReport(checked, chains, BrokenLink(org_id, sequence, event[0], broken))
        expected_prev, expected_seq = digest, sequence + 1
    head = expected_prev if checked else None
    return ChainReport(checked, chains, None, head_hash=head)
