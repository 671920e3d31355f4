"""Writes and reads of encrypted, region-pinned blobs, and the keys that protect them.

- blob_put / blob_open / blob_read_bytes / blob_delete: the only way bytes enter or leave storage.
  An organisation's bytes go only to its region's backend (org.region); a write or read anywhere else
  raises ResidencyError and is audited as `storage.residency_violation` (residency.py).
- org_key_rotate: a new organisation key version; every data key is re-wrapped, no object rewritten.
- subject_key_get_or_create / blob_bind_subject / subject_keys_destroy: per-subject keys (crypto-shredding).
  A blob about one data subject has its data key wrapped by the subject's key; destroying that key on erasure
  leaves every copy of the ciphertext unreadable. Which blobs belong to whom is decided by the caller
  (apps/compliance/subject_keys.py); this module only does the cryptography.
- open_intake_object: a file the organisation dropped into its own intake area of its region's storage.

Blob and OrgKey are tenant-owned (row-level security): reads start from for_org(org), and the services
run in whatever tenant context the caller set (request, job, or an operator command's tenant_context).
See keys.py for the key hierarchy and crypto.py for the ciphertext format.
"""

import contextlib
import logging
import posixpath
import uuid
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from apps.compliance.services import audit_record
from apps.tenancy.base import org_id_of
from apps.tenancy.models import Organization

from . import crypto
from .errors import BlobCorrupted, BlobMissing, KeyUnavailable, StorageError
from .keys import (  # noqa: F401  (subject_key_get_or_create, subject_keys_destroy: public here too)
    current_org_key_locked,
    org_key_create,
    org_key_material,
    org_key_of_version,
    subject_key_aad,
    subject_key_get_or_create,
    subject_key_material,
    subject_keys_destroy,
    unwrap_subject_key,
)
from .models import Blob, OrgKey, SubjectKey
from .regions import backend_for, is_local, open_stored
from .residency import acting_user, residency_refused

logger = logging.getLogger(__name__)

REWRAP_BATCH = 500
_ROTATION_LOCK_NAMESPACE = 0x6B6579  # "key"


def _organization(org) -> Organization:
    return org if isinstance(org, Organization) else Organization.objects.get(pk=org_id_of(org))


# --- Keys (the key hierarchy itself is in keys.py) -------------------------------------------


class OrgKeyRotation(NamedTuple):
    version: int
    previous_version: int | None
    blobs_rewrapped: int


def org_key_rotate(*, org, actor) -> OrgKeyRotation:
    """Creates a new key version for the organisation, re-wraps every blob's data key with it in batches
    and retires the older versions (kept, so a blob still on one stays readable). No object is rewritten.

    `actor` None is an operator (the rotate_org_key command); a user needs the org.manage scope.
    """
    from apps.tenancy.permissions import require_scope

    org = _organization(org)
    if actor is not None:
        require_scope(org=org, actor=actor, scope="org.manage")
    with _rotation_lock(org.pk):
        with transaction.atomic():
            versions = list(OrgKey.objects.for_org(org).select_for_update().order_by("version"))
            previous = next((k.version for k in reversed(versions) if k.retired_at is None), None)
            new_version = (versions[-1].version if versions else 0) + 1
            new_key = org_key_create(org.pk, new_version)
            OrgKey.objects.for_org(org).filter(version__lt=new_version, retired_at__isnull=True).update(
                retired_at=timezone.now()
            )
        _rewrap_subject_keys(org.pk, new_key)
        rewrapped = _rewrap_blobs(org.pk, new_key)
        audit_record(
            org=org, actor=actor, action="storage.org_key_rotated", target=new_key,
            before={"version": previous}, after={"version": new_version, "master_key_id": new_key.master_key_id},
            metadata={"blobs_rewrapped": rewrapped},
        )
    return OrgKeyRotation(version=new_version, previous_version=previous, blobs_rewrapped=rewrapped)


class _rotation_lock:
    """One rotation per organisation at a time (a session advisory lock on PostgreSQL)."""

    def __init__(self, org_id: int) -> None:
        self.params = [_ROTATION_LOCK_NAMESPACE, org_id]

    def __enter__(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", self.params)

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.params)


def _rewrap_subject_keys(org_id: int, new_key: OrgKey) -> int:
    """Re-wraps every live subject key with the new organisation key version (the blobs they wrap are untouched)."""
    new_material = org_key_material(new_key)
    old_material: dict[int, bytes] = {}
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                SubjectKey.objects.for_org(org_id).filter(org_key_version__lt=new_key.version,
                                                          destroyed_at__isnull=True)
                .select_for_update().order_by("pk")[:REWRAP_BATCH]
            )
            if not batch:
                return total
            for subject_key in batch:
                if subject_key.org_key_version not in old_material:
                    old_material[subject_key.org_key_version] = org_key_material(
                        org_key_of_version(org_id, subject_key.org_key_version)
                    )
                material = unwrap_subject_key(old_material[subject_key.org_key_version], subject_key)
                subject_key.org_key_version = new_key.version
                subject_key.wrapped_key = crypto.wrap(new_material, material, subject_key_aad(subject_key))
            SubjectKey.objects.bulk_update(batch, ["wrapped_key", "org_key_version"])
            total += len(batch)


def _rewrap_blobs(org_id: int, new_key: OrgKey) -> int:
    new_material = org_key_material(new_key)
    old_material: dict[int, bytes] = {}
    total = 0
    while True:
        with transaction.atomic():
            # A blob wrapped by a subject key depends on the organisation key through that key (re-wrapped above):
            # only its version number moves.
            total += Blob.objects.for_org(org_id).filter(
                org_key_version__lt=new_key.version, subject_key__isnull=False).update(org_key_version=new_key.version)
            batch = list(
                Blob.objects.for_org(org_id).filter(org_key_version__lt=new_key.version, subject_key__isnull=True)
                .select_for_update().order_by("pk").only("pk", "key", "org_key_version", "wrapped_data_key")
                [:REWRAP_BATCH]
            )
            if not batch:
                return total
            for blob in batch:
                if blob.org_key_version not in old_material:
                    old_material[blob.org_key_version] = org_key_material(
                        org_key_of_version(org_id, blob.org_key_version)
                    )
                data_key = _unwrap_data_key(old_material[blob.org_key_version], org_id, blob)
                blob.wrapped_data_key = crypto.wrap(
                    new_material, data_key,
                    crypto.data_key_aad(org_id=org_id, blob_key=blob.key, org_key_version=new_key.version),
                )
                blob.org_key_version = new_key.version
            Blob.objects.bulk_update(batch, ["wrapped_data_key", "org_key_version"])
            total += len(batch)


def _unwrap_data_key(org_key_material: bytes, org_id: int, blob: Blob) -> bytes:
    aad = crypto.data_key_aad(org_id=org_id, blob_key=blob.key, org_key_version=blob.org_key_version)
    try:
        return crypto.unwrap(org_key_material, blob.wrapped_data_key, aad)
    except InvalidTag:
        raise BlobCorrupted(f"The data key of blob {blob.pk} does not unwrap: its row was changed.") from None


def _data_key_of(row: Blob, org_key_materials: dict | None = None) -> bytes:
    """The blob's data key, unwrapped through its subject key or its organisation key version (whose material a
    batch read passes in, {version: material}, unwrapped once for all its blobs)."""
    if row.subject_key_id is not None:
        subject_key = SubjectKey.objects.for_org(row.organization_id).filter(pk=row.subject_key_id).first()
        if subject_key is None:
            raise KeyUnavailable(f"The subject key of blob {row.pk} is gone.")
        aad = crypto.subject_data_key_aad(org_id=row.organization_id, blob_key=row.key,
                                          subject_key_id=subject_key.pk)
        try:
            return crypto.unwrap(subject_key_material(subject_key), row.wrapped_data_key, aad)
        except InvalidTag:
            raise BlobCorrupted(f"The data key of blob {row.pk} does not unwrap: its row was changed.") from None
    if org_key_materials is not None and row.org_key_version in org_key_materials:
        return _unwrap_data_key(org_key_materials[row.org_key_version], row.organization_id, row)
    org_key = org_key_of_version(row.organization_id, row.org_key_version)
    return _unwrap_data_key(org_key_material(org_key), row.organization_id, row)


def _wrap_data_key(row: Blob, data_key: bytes, *, subject_key: SubjectKey | None, org_key: OrgKey) -> None:
    """Sets row.wrapped_data_key (and its key references) for `data_key`: by the subject key, or by `org_key`."""
    row.subject_key = subject_key
    if subject_key is not None:
        row.org_key_version = subject_key.org_key_version
        aad = crypto.subject_data_key_aad(org_id=row.organization_id, blob_key=row.key,
                                          subject_key_id=subject_key.pk)
        row.wrapped_data_key = crypto.wrap(subject_key_material(subject_key), data_key, aad)
    else:
        row.org_key_version = org_key.version
        aad = crypto.data_key_aad(org_id=row.organization_id, blob_key=row.key, org_key_version=org_key.version)
        row.wrapped_data_key = crypto.wrap(org_key_material(org_key), data_key, aad)


def blob_bind_subject(blob: Blob, subject_key: SubjectKey | None) -> bool:
    """Re-wraps the blob's data key with `subject_key` (None: back to the organisation key). Only the few bytes of
    the wrapped key change, never the object. Returns False when it was already so wrapped."""
    with transaction.atomic():
        row = Blob.objects.for_org(blob.organization_id).select_for_update().filter(pk=blob.pk).first()
        if row is None or row.subject_key_id == (subject_key.pk if subject_key else None):
            return False
        data_key = _data_key_of(row)
        org_key = current_org_key_locked(row.organization_id)
        _wrap_data_key(row, data_key, subject_key=subject_key, org_key=org_key)
        row.save(update_fields=["wrapped_data_key", "org_key_version", "subject_key"])
    blob.wrapped_data_key, blob.org_key_version, blob.subject_key_id = (
        row.wrapped_data_key, row.org_key_version, row.subject_key_id)
    return True


# --- Blobs ------------------------------------------------------------------------------------


class _CiphertextFile(File):
    # Larger than a sealed chunk, so the backend takes each one whole.
    DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024 + 1024


def blob_put(*, org, stream, mime: str = "", max_bytes: int | None = None, region: str | None = None,
             subject_key: SubjectKey | None = None) -> Blob:
    """Encrypts a binary stream into the organisation's region and records it as a Blob.

    With `subject_key` (content about one data subject) the data key is wrapped by that subject's key.

    Reads `stream` from its start (when it can seek) in chunks, never whole. `region` defaults to the
    organisation's; any other raises ResidencyError (audited). Past `max_bytes` of content it raises
    BlobTooLarge. On any failure nothing is left behind in the backend.
    """
    org = _organization(org)
    target = region or org.region
    if target != org.region:
        _authorise_transfer(org, target, operation="write")
    storage = backend_for(target)
    now = timezone.now()
    key = f"org/{org.pk}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}"
    chunk_size = settings.STORAGE_CHUNK_SIZE
    data_key = crypto.new_key()
    if getattr(stream, "seekable", lambda: False)():
        stream.seek(0)
    reader = crypto.EncryptingReader(stream, data_key=data_key, blob_key=key, chunk_size=chunk_size,
                                     max_bytes=max_bytes)
    saved = None
    try:
        saved = storage.save(key, _CiphertextFile(reader, name=key))
        if saved != key:
            raise StorageError(f"The {org.region} backend stored {key!r} as {saved!r}.")
        if not reader.finished:
            raise StorageError("The backend stopped reading before the end of the stream.")
        with transaction.atomic():
            org_key = current_org_key_locked(org.pk)
            row = Blob(organization_id=org.pk, region=target, key=key, size=reader.plaintext_size,
                       sha256=reader.sha256, mime=(mime or "")[:127], chunk_size=chunk_size)
            _wrap_data_key(row, data_key, subject_key=subject_key, org_key=org_key)
            row.save(force_insert=True)
            return row
    except BaseException:
        _delete_object(storage, saved or key)
        raise


def _delete_object(storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # the caller's own error matters more
        # What stays behind is only ciphertext: its data key was never stored, so nothing can read it.
        logger.exception("Could not delete stored object %s", name)


def _authorise_transfer(org: Organization, region: str, *, operation: str, blob: Blob | None = None) -> None:
    """Data of the organisation outside its region: allowed only under an active, recorded legal basis
    (apps/compliance/transfers.py; a write is audited there as `residency.transfer`), refused and audited otherwise."""
    from apps.compliance.transfers import transfer_authorised

    if transfer_authorised(org=org, actor=acting_user(), region=region, operation=operation) is None:
        raise residency_refused(org=org, operation=operation, region=region, blob=blob,
                                reason="no recorded legal basis for a transfer to that region"
                                if blob is None else "the blob is stored in another region without a current "
                                                     "legal basis for a transfer there")


def _check_residency(org: Organization, blob: Blob, operation: str) -> None:
    if blob.region != org.region:
        _authorise_transfer(org, blob.region, operation=operation, blob=blob)
    if not blob.key.startswith(f"org/{org.pk}/"):
        raise residency_refused(org=org, operation=operation, region=blob.region, blob=blob,
                                reason="the blob's key is outside the organisation's area")


def blob_open(blob: Blob) -> crypto.DecryptingReader:
    """A readable, seekable file-like of the blob's plaintext, decrypted chunk by chunk as it is read.

    Raises ResidencyError (audited) when the blob lies outside its organisation's region, BlobMissing when
    its ciphertext is gone, BlobCorrupted on any tampering (checked chunk by chunk as it is read).
    Use it as a context manager.
    """
    row = Blob.objects.for_org(blob.organization_id).select_related("organization").filter(pk=blob.pk).first()
    if row is None:
        raise BlobMissing(f"Blob {blob.pk} does not exist (or belongs to another organisation).")
    return _open_row(row)


def _open_row(row: Blob, org_key_materials: dict | None = None) -> crypto.DecryptingReader:
    _check_residency(row.organization, row, "read")
    data_key = _data_key_of(row, org_key_materials)
    try:
        source = open_stored(backend_for(row.region), row.key)
    except FileNotFoundError:
        raise BlobMissing(f"The content of blob {row.pk} is missing from region {row.region}.") from None
    reader = crypto.DecryptingReader(
        source, data_key=data_key, blob_key=row.key, size=row.size, chunk_size=row.chunk_size, name=f"blob {row.pk}"
    )
    try:
        reader.check_header()
    except FileNotFoundError:
        reader.close()
        raise BlobMissing(f"The content of blob {row.pk} is missing from region {row.region}.") from None
    except BaseException:
        reader.close()
        raise
    return reader


def blob_read_bytes(blob: Blob, *, limit: int | None = None) -> bytes:
    """The blob's plaintext, or its first `limit` bytes."""
    with blob_open(blob) as reader:
        return reader.read(-1 if limit is None else limit)


def blobs_read_bytes(*, org_id: int, blob_ids: list[int]) -> dict[int, bytes | Exception]:
    """The plaintext of many blobs of one organisation (a batch of images for a model), each as blob_read_bytes
    reads it but with one query for the rows and one for their organisation key versions, each version unwrapped
    once. A blob that cannot be read maps to the exception blob_read_bytes would raise, so the caller can fail
    that one alone."""
    rows = {row.pk: row for row in Blob.objects.for_org(org_id).select_related("organization").filter(pk__in=blob_ids)}
    versions = {row.org_key_version for row in rows.values() if row.subject_key_id is None}
    materials = {}
    for org_key in OrgKey.objects.for_org(org_id).filter(version__in=versions):
        # A key that does not unwrap: each blob of that version raises it again below, where it can be told apart.
        with contextlib.suppress(KeyUnavailable):
            materials[org_key.version] = org_key_material(org_key)
    out: dict[int, bytes | Exception] = {}
    for pk in blob_ids:
        row = rows.get(pk)
        try:
            if row is None:
                raise BlobMissing(f"Blob {pk} does not exist (or belongs to another organisation).")
            with _open_row(row, materials) as reader:
                out[pk] = reader.read()
        except Exception as exc:  # handed to the caller, per blob
            out[pk] = exc
    return out


def blob_delete(blob: Blob | None) -> None:
    """Deletes the row now and the ciphertext once the caller's transaction commits (at once outside one),
    so a rollback never leaves a row without its bytes. Deleting an already deleted blob does nothing."""
    if blob is None:
        return
    region, key = blob.region, blob.key
    with transaction.atomic():
        Blob.objects.for_org(blob.organization_id).filter(pk=blob.pk).delete()
        if region in settings.REGIONS and key.startswith(f"org/{blob.organization_id}/"):
            transaction.on_commit(lambda: _delete_object(backend_for(region), key))


# --- Intake area ------------------------------------------------------------------------------


def _intake_key(key: str) -> str:
    from apps.storage.intake import IntakeError

    if not isinstance(key, str) or not 0 < len(key) <= 1000:
        raise IntakeError("bad_key", "A storage key is 1 to 1000 characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in key) or "\\" in key:
        raise IntakeError("bad_key", "A storage key has no control characters or backslashes.")
    parts = key.split("/")
    if key.startswith("/") or posixpath.normpath(key) != key or any(p in {"", ".", ".."} for p in parts):
        raise IntakeError("bad_key", f"{key[:80]!r} is not a plain relative key inside the intake area.")
    return key


def open_intake_object(*, org, key: str):
    """A readable, seekable stream of `intake/<org id>/<key>` in the organisation's region backend: files the
    organisation placed there itself (plaintext, e.g. synced into its bucket), named by manifest rows.

    Raises IntakeError ("bad_key", "not_found") for keys that try to leave the area or name nothing.
    """
    import os

    from apps.storage.intake import IntakeError

    org = _organization(org)
    key = _intake_key(key)
    storage = backend_for(org.region)
    area = f"intake/{org.pk}"
    name = f"{area}/{key}"
    not_found = IntakeError("not_found", f"No file {key[:80]!r} in the organisation's intake area.")
    if is_local(storage):
        root = os.path.realpath(storage.path(area))
        path = os.path.realpath(storage.path(name))
        # A link inside the area must not lead out of it (to another organisation's area, or anywhere).
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            raise not_found
        return open(path, "rb")  # the caller closes it
    stream = open_stored(storage, name)
    try:
        stream.size = stream.head()
    except FileNotFoundError:
        stream.close()
        raise not_found from None
    return stream
