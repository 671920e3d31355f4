"""The key hierarchy of storage (crypto.py has the primitives and the ciphertext format):

- master keys (settings.STORAGE_MASTER_KEYS) wrap organisation key versions (OrgKey);
- an organisation key version wraps the data keys of the organisation's blobs, and the subject keys;
- a subject key (SubjectKey, one live per data subject, named by pseudonym) wraps the data keys of the blobs about
  that person. Destroying it (subject_keys_destroy, on erasure) wipes its material: the blobs it protected, and every
  copy of their ciphertext, can no longer be decrypted (crypto-shredding per person).

services.py wraps and unwraps blobs' data keys with these and rotates organisation keys.
"""

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.tenancy.base import org_id_of

from . import crypto
from .errors import KeyUnavailable
from .models import OrgKey, SubjectKey

# --- Organisation keys -----------------------------------------------------------------------


def master_key(key_id: str) -> bytes:
    key = dict(settings.STORAGE_MASTER_KEYS).get(key_id)
    if key is None:
        raise KeyUnavailable(
            f"Master key {key_id!r} is not configured: add it to DLSAAS_MASTER_KEYS (after the current one)."
        )
    return key


def org_key_create(org_id: int, version: int) -> OrgKey:
    master_id, master = settings.STORAGE_MASTER_KEYS[0]
    aad = crypto.org_key_aad(org_id=org_id, version=version, master_key_id=master_id)
    return OrgKey.objects.create(
        organization_id=org_id, version=version, master_key_id=master_id,
        wrapped_key=crypto.wrap(master, crypto.new_key(), aad),
    )


def org_key_material(org_key: OrgKey) -> bytes:
    if org_key.destroyed_at is not None:
        raise KeyUnavailable(f"Key v{org_key.version} of organisation {org_key.organization_id} was destroyed.")
    aad = crypto.org_key_aad(
        org_id=org_key.organization_id, version=org_key.version, master_key_id=org_key.master_key_id
    )
    try:
        return crypto.unwrap(master_key(org_key.master_key_id), org_key.wrapped_key, aad)
    except InvalidTag:
        raise KeyUnavailable(
            f"Key v{org_key.version} of organisation {org_key.organization_id} does not unwrap with master key "
            f"{org_key.master_key_id!r}: the master key or the row was changed."
        ) from None


def org_key_of_version(org_id: int, version: int) -> OrgKey:
    org_key = OrgKey.objects.for_org(org_id).filter(version=version).first()
    if org_key is None:
        raise KeyUnavailable(f"Organisation {org_id} has no key v{version}.")
    return org_key


_CURRENT_KEY_SQL = (
    f'SELECT * FROM "{OrgKey._meta.db_table}" WHERE organization_id = %s'
    " AND retired_at IS NULL AND destroyed_at IS NULL ORDER BY version DESC LIMIT 1"
)


def current_org_key_locked(org_id: int) -> OrgKey:
    """The version that wraps new data keys, share-locked until the caller's transaction ends, so a
    rotation (which retires it under FOR UPDATE) waits for the caller's new Blob row and re-wraps it."""
    assert connection.in_atomic_block, "call inside transaction.atomic()"
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    for _attempt in range(5):
        found = list(OrgKey.objects.raw(_CURRENT_KEY_SQL + lock, [org_id]))
        if found:
            return found[0]
        if OrgKey.objects.for_org(org_id).exists():
            # Either a rotation retired the row we waited on (try again: its successor is committed) or
            # every version is retired or destroyed.
            if not OrgKey.objects.for_org(org_id).filter(retired_at__isnull=True, destroyed_at__isnull=True).exists():
                break
            continue
        try:
            with transaction.atomic():
                return org_key_create(org_id, 1)
        except IntegrityError:  # another process created version 1 first
            continue
    raise KeyUnavailable(f"Organisation {org_id} has no usable key: rotate it to create one.")


# --- Subject keys (crypto-shredding per data subject) -----------------------------------------------


def subject_key_aad(subject_key: SubjectKey) -> bytes:
    return crypto.subject_key_aad(org_id=subject_key.organization_id, pseudonym=subject_key.pseudonym,
                                  org_key_version=subject_key.org_key_version)


def require_live(subject_key: SubjectKey) -> None:
    if subject_key.destroyed_at is not None or not subject_key.wrapped_key:
        raise KeyUnavailable(f"The key of data subject {subject_key.pseudonym[:12]}… was destroyed when their data "
                             "was erased: what it protected can no longer be read.")


def unwrap_subject_key(org_key_material: bytes, subject_key: SubjectKey) -> bytes:
    require_live(subject_key)
    try:
        return crypto.unwrap(org_key_material, subject_key.wrapped_key, subject_key_aad(subject_key))
    except InvalidTag:
        raise KeyUnavailable(f"Subject key {subject_key.pk} does not unwrap: its row was changed.") from None


def subject_key_material(subject_key: SubjectKey) -> bytes:
    require_live(subject_key)
    org_key = org_key_of_version(subject_key.organization_id, subject_key.org_key_version)
    return unwrap_subject_key(org_key_material(org_key), subject_key)


def subject_key_get_or_create(*, org, pseudonym: str) -> SubjectKey:
    """The live key of one data subject (named by pseudonym), created and wrapped by the current organisation key
    on first use."""
    org_id = org_id_of(org)
    if not pseudonym or len(pseudonym) > 64:
        raise ValueError("A subject key is named by a pseudonym of 1 to 64 characters.")
    for _attempt in range(3):
        found = SubjectKey.objects.for_org(org_id).filter(pseudonym=pseudonym, destroyed_at__isnull=True).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                org_key = current_org_key_locked(org_id)
                subject_key = SubjectKey(organization_id=org_id, pseudonym=pseudonym, org_key_version=org_key.version)
                subject_key.wrapped_key = crypto.wrap(org_key_material(org_key), crypto.new_key(),
                                                      subject_key_aad(subject_key))
                subject_key.save()
                return subject_key
        except IntegrityError:  # another process created it first
            continue
    raise KeyUnavailable(f"Could not create the key of data subject {pseudonym[:12]}….")


def subject_keys_destroy(*, org, pseudonym: str) -> int:
    """Destroys the subject's keys: the key material is wiped from the row and destroyed_at set. Every blob whose
    data key they wrapped, and every copy of its ciphertext, is unreadable from then on. Returns how many keys."""
    return SubjectKey.objects.for_org(org_id_of(org)).filter(pseudonym=pseudonym, destroyed_at__isnull=True).update(
        wrapped_key=b"", destroyed_at=timezone.now())
