"""The hash chain of the audit trail: what a link's hash covers, and how a chain is checked.

    link.hash = sha256(link.prev_hash + JSON array [link.sequence, *the event's EVENT_COLUMNS])

The array holds the values exactly as the database returns them through `event_select` (numbers, text or null; the
time as UTC ISO 8601 text with microseconds, the JSON columns as their stored JSON text), written as PostgreSQL's
json_build_array(...)::text writes it and Python's json.dumps(values, ensure_ascii=False) too: ", " between
elements, UTF-8, only quotes, backslashes and control characters escaped. So the sealer (Python), the verifier
(one SQL statement on PostgreSQL, Python on SQLite) and a third party with any JSON library compute the same bytes.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
_SQLITE_EXPRESSIONS = {"occurred_at": "CAST(e.occurred_at AS TEXT)"}


def event_select(vendor: str) -> str:
    """The SELECT list of an event's hashed columns, from a table aliased `e`."""
    if vendor == "postgresql":
        return ", ".join(_PG_EXPRESSIONS.get(name, f"e.{name}") for name in EVENT_COLUMNS)
    # SQLite: the stored text. CAST, because Django registers a converter for columns declared `datetime`, which
    # would hand the sealer a datetime object instead (and json.dumps refuses it).
    return ", ".join(_SQLITE_EXPRESSIONS.get(name, f"e.{name}") for name in EVENT_COLUMNS)


def link_payload(sequence: int, event_row: Sequence) -> bytes:
    return json.dumps([sequence, *event_row], ensure_ascii=False).encode()


def link_hash(prev_hash: str, sequence: int, event_row: Sequence) -> str:
    return hashlib.sha256(prev_hash.encode() + link_payload(sequence, event_row)).hexdigest()


def pg_event_array() -> str:
    """The event's hashed values as PostgreSQL writes them in a JSON array (`[id, organization_id, ...]`), from a
    table aliased `e`: the sealer has the database write the payload (link_hash_of_array) instead of encoding each
    event in Python; the bytes are the same (the module's docstring, and the verification relies on it)."""
    return f"json_build_array({_pg_event_values()})::text"


def link_hash_of_array(prev_hash: str, sequence: int, event_array: str) -> str:
    """link_hash() of an event given as pg_event_array() text: the sequence joins the array at its head."""
    return hashlib.sha256(f"{prev_hash}[{sequence}, {event_array[1:]}".encode()).hexdigest()


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
    sha256 = hashlib.sha256
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
        elif sha256(prev_hash.encode() + link_payload(sequence, event)).hexdigest() != digest:
            broken = "its contents do not match its hash (the row was changed)"
        if broken:
            return ChainReport(checked, chains, BrokenLink(org_id, sequence, event[0], broken))
        expected_prev, expected_seq = digest, sequence + 1
    head = expected_prev if checked else None
    return ChainReport(checked, chains, None, head_hash=head)


def _pg_event_values() -> str:
    return ", ".join(_PG_EXPRESSIONS.get(name, f"e.{name}") for name in EVENT_COLUMNS)


# PostgreSQL checks every link in one statement: each row's hash recomputed with sha256() over the same bytes the
# sealer hashed, its sequence and prev_hash compared with the link before it (lag), the first failure returned.
PG_VERIFY_SQL = f"""
WITH links AS (
    SELECT l.organization_id AS org, l.sequence, l.prev_hash, l.hash, l.event_id, e.id AS found_event,
           lag(l.sequence) OVER chain AS before_sequence, lag(l.hash) OVER chain AS before_hash,
           encode(sha256(convert_to(l.prev_hash || json_build_array(l.sequence, {_pg_event_values()})::text,
                                    'UTF8')), 'hex') AS computed
    FROM compliance_auditchainlink l LEFT JOIN compliance_auditevent e ON e.id = l.event_id
    WHERE {{where}}
    WINDOW chain AS (PARTITION BY l.organization_id ORDER BY l.sequence)
)
SELECT org, sequence, event_id, found_event, before_sequence, prev_hash, before_hash, hash, computed FROM links
WHERE sequence <> coalesce(before_sequence, 0) + 1 OR prev_hash <> coalesce(before_hash, '{GENESIS_HASH}')
   OR found_event IS NULL OR computed <> hash
ORDER BY org NULLS FIRST, sequence LIMIT 1
"""


def broken_link_of(row: Sequence) -> BrokenLink:
    """The BrokenLink a row of PG_VERIFY_SQL describes, with the same reasons verify_links gives."""
    org, sequence, event_id, found_event, before_sequence, prev_hash, before_hash = row[:7]
    expected = (before_sequence or 0) + 1
    if sequence != expected:
        reason = f"expected sequence {expected}, found {sequence} (a link is missing or inserted)"
    elif prev_hash != (before_hash or GENESIS_HASH):
        reason = "its previous-hash does not match the link before it"
    elif found_event is None:
        reason = "the event it seals is gone (a row was deleted)"
    else:
        reason = "its contents do not match its hash (the row was changed)"
    return BrokenLink(org, sequence, event_id, reason)
