"""Small secrets kept in the database (a pipeline's webhook signing secret), sealed with the organisation's key.

    sealed = b"S1" | org key version (4 bytes, big-endian) | nonce | AES-GCM(org key, secret, aad)

The associated data names the organisation, the purpose (e.g. "pipeline:12:webhook") and the key version, so a
sealed value copied onto another organisation's row, another pipeline or another purpose does not open. An org key
rotation retires the old version but keeps it, so older sealed values still open; destroying the organisation's
keys (crypto-shredding) makes them unreadable with everything else.
"""

from cryptography.exceptions import InvalidTag
from django.db import transaction

from . import crypto
from .errors import KeyUnavailable
from .keys import current_org_key_locked, org_key_material, org_key_of_version

MAGIC = b"S1"


def _aad(org_id: int, purpose: str, version: int) -> bytes:
    return crypto._aad(b"dlsaas/org-secret/v1", str(org_id).encode(), purpose.encode(), str(version).encode())


def org_secret_seal(*, org_id: int, purpose: str, secret: bytes) -> bytes:
    with transaction.atomic():
        org_key = current_org_key_locked(org_id)
        wrapped = crypto.wrap(org_key_material(org_key), secret, _aad(org_id, purpose, org_key.version))
    return MAGIC + org_key.version.to_bytes(4, "big") + wrapped


def org_secret_open(*, org_id: int, purpose: str, sealed: bytes) -> bytes:
    """The secret; KeyUnavailable when the key is gone or the value was not sealed for this (org, purpose)."""
    sealed = bytes(sealed)
    if sealed[:2] != MAGIC or len(sealed) < 6 + crypto.NONCE_BYTES + crypto.TAG_BYTES:
        raise KeyUnavailable("Not a sealed secret.")
    version = int.from_bytes(sealed[2:6], "big")
    material = org_key_material(org_key_of_version(org_id, version))
    try:
        return crypto.unwrap(material, sealed[6:], _aad(org_id, purpose, version))
    except InvalidTag:
        raise KeyUnavailable(f"The sealed secret for {purpose} does not open: its row was changed.") from None
