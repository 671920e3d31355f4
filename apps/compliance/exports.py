"""Signed exports of the audit trail: a period of one organisation's chain as a zip a third party can verify.

The zip holds
- events.json: the links of the period (sequence, prev_hash, hash and the event's values exactly as hashed);
- events.csv: the same events for people, every cell spreadsheet-safe;
- manifest.json: the organisation, the period, the sequences, the first prev_hash and last hash, the chain's head
  when exported, who exported it, and the sha256 of every other file;
- manifest.json.sig: the Ed25519 signature of manifest.json; public_key.pem: the key that made it;
- verify_chain.py and VERIFY.txt: the documented check (apps/compliance/export_verifier.py).

The period covers every link from the first to the last event that occurred in it, so the chain inside the file is
contiguous even where transactions committed out of order.
"""

import csv
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.core.spreadsheets import csv_cell
from apps.tenancy.base import org_id_of
from apps.tenancy.context import system_context
from apps.tenancy.permissions import require_scope

from . import signing
from .chain import EVENT_COLUMNS, event_select
from .models import AuditChainLink
from .sealing import seal_pending
from .services import audit_record

FORMAT = "dlsaas-audit-export/1"
CSV_COLUMNS = ("sequence", "occurred_at", "actor_type", "actor_label", "actor_user_id", "actor_token_id", "action",
               "target_type", "target_id", "target_label", "ip", "user_agent", "request_id", "before", "after",
               "metadata", "hash")
VERIFIER = Path(__file__).with_name("export_verifier.py")
VERIFY_TEXT = """How to check this export
========================

1. The signature of the manifest (OpenSSL 3.0 or newer):

    openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in manifest.json -sigfile manifest.json.sig

   It prints "Signature Verified Successfully".

2. The files and the hash chain (Python 3, standard library only):

    python3 verify_chain.py .

   It prints "OK: ..." and the signing key's fingerprint.

3. Compare that fingerprint with the one your dlsaas operator published (the audit console shows it). A valid
   signature by a key you cannot trace to the operator proves nothing.

Each link's hash is sha256(prev_hash + JSON array [sequence, *values]) in UTF-8 JSON with ", " between the
elements and no ASCII escaping (Python's json.dumps(..., ensure_ascii=False), PostgreSQL's json_build_array);
the columns of "values" are named in events.json. manifest.json's chain_head is the newest link of the
organisation's chain when the export was made: a later export that reaches that sequence must show the same hash
there.
"""


@dataclass(frozen=True)
class AuditExport:
    path: Path
    filename: str
    events: int


def _sequence_range(org_id: int, since: datetime, until: datetime) -> tuple[int | None, int | None, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(l.sequence), max(l.sequence) FROM compliance_auditchainlink l"
            " JOIN compliance_auditevent e ON e.id = l.event_id"
            " WHERE e.organization_id = %s AND e.occurred_at >= %s AND e.occurred_at < %s",
            [org_id, since, until],
        )
        first, last = cursor.fetchone()
    return first, last, (last - first + 1) if first is not None else 0


def _links(org_id: int, first: int, last: int):
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT l.sequence, l.prev_hash, l.hash, {event_select(connection.vendor)}"
            " FROM compliance_auditchainlink l JOIN compliance_auditevent e ON e.id = l.event_id"
            " WHERE l.organization_id = %s AND l.sequence BETWEEN %s AND %s ORDER BY l.sequence",
            [org_id, first, last],
        )
        while rows := cursor.fetchmany(5000):
            yield from rows


def _write_events(folder: Path, org_id: int, first: int, last: int) -> tuple[str, str]:
    """events.json and events.csv, streamed; returns (first prev_hash, last hash)."""
    first_prev = last_hash = ""
    with (folder / "events.json").open("w", encoding="utf-8") as out_json, \
            (folder / "events.csv").open("w", encoding="utf-8", newline="") as out_csv:
        header = json.dumps({"format": FORMAT, "columns": ["sequence", *EVENT_COLUMNS]})
        out_json.write(header[:-1] + ', "links": [\n')
        writer = csv.writer(out_csv)
        writer.writerow(CSV_COLUMNS)
        separator = ""
        for sequence, prev_hash, digest, *values in _links(org_id, first, last):
            first_prev = first_prev or prev_hash
            last_hash = digest
            out_json.write(separator + json.dumps(
                {"sequence": sequence, "prev_hash": prev_hash, "hash": digest, "values": values},
                ensure_ascii=False, separators=(",", ":"),
            ))
            separator = ",\n"
            row = dict(zip(EVENT_COLUMNS, values, strict=True))
            row.update(sequence=sequence, hash=digest)
            writer.writerow([csv_cell(row[name]) for name in CSV_COLUMNS])
        out_json.write("\n]}\n")
    return first_prev, last_hash


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def audit_export_create(*, org, actor, since: datetime, until: datetime) -> AuditExport:
    """Seals what is waiting, records the export, writes the signed zip to a temporary file and returns it."""
    require_scope(org=org, actor=actor, scope="audit.view")
    if since >= until:
        raise ValidationError({"until": ["Must be later than since."]})
    org_id = org_id_of(org)
    with transaction.atomic():
        audit_record(org=org, actor=actor, action="audit.exported", target=org,
                     metadata={"since": since.isoformat(), "until": until.isoformat()})
    seal_pending(org_id)
    with transaction.atomic(), system_context():
        first, last, count = _sequence_range(org_id, since, until)
        if not count:
            raise ValidationError({"since": ["No audit events between since and until."]})
        if count > settings.AUDIT_EXPORT_MAX_EVENTS:
            raise ValidationError({"until": [
                f"This period holds {count} events; one export holds at most {settings.AUDIT_EXPORT_MAX_EVENTS}. "
                "Export a shorter period, then the next one."
            ]})
        head = (AuditChainLink.objects.filter(organization_id=org_id).order_by("-sequence")
                .values("sequence", "hash").first())
        folder = Path(tempfile.mkdtemp(prefix="audit-export-"))
        try:
            return _write_bundle(folder, org=org, actor=actor, since=since, until=until, first=first, last=last,
                                 count=count, head=head)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise


def _write_bundle(folder: Path, *, org, actor, since, until, first: int, last: int, count: int,
                  head: dict) -> AuditExport:
    org_id = org_id_of(org)
    first_prev, last_hash = _write_events(folder, org_id, first, last)
    (folder / "verify_chain.py").write_bytes(VERIFIER.read_bytes())
    (folder / "public_key.pem").write_bytes(signing.public_key_pem())
    manifest = {
        "format": FORMAT,
        "organization": {"id": org_id, "slug": org.slug, "name": org.name},
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "exported_at": timezone.now().isoformat(),
        "exported_by": getattr(actor, "email", ""),
        "events": count,
        "first_sequence": first,
        "last_sequence": last,
        "first_prev_hash": first_prev,
        "last_hash": last_hash,
        "chain_head": head,
        "public_key_sha256": signing.public_key_fingerprint(),
        "signing_key_configured": signing.is_configured(),
        "files": {name: _sha256(folder / name) for name in ("events.json", "events.csv", "verify_chain.py")},
    }
    manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
    filename = f"audit-{org.slug}-{since:%Y%m%dT%H%M%S}-{until:%Y%m%dT%H%M%S}.zip"
    zip_path = folder / filename
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", manifest_bytes)
        bundle.writestr("manifest.json.sig", signing.sign(manifest_bytes))
        bundle.writestr("VERIFY.txt", VERIFY_TEXT)
        for name in ("events.json", "events.csv", "verify_chain.py", "public_key.pem"):
            bundle.write(folder / name, name)
            (folder / name).unlink()
    return AuditExport(path=zip_path, filename=filename, events=count)


def open_and_forget(export: AuditExport) -> io.BufferedReader:
    """The zip opened for streaming; its file and folder are gone once the handle is closed (POSIX unlink)."""
    handle = export.path.open("rb")
    export.path.unlink()
    export.path.parent.rmdir()
    return handle
