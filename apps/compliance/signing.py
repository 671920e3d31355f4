"""The key that signs audit exports: Ed25519, one per deployment, from DLSAAS_AUDIT_SIGNING_KEY.

Embedded and test mode derive a key from SECRET_KEY (production refuses to start without a configured one), so an
export signed there proves nothing to a third party; the console says which key signs and shows its fingerprint,
which an auditor compares with the one the operator published.
"""

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _private_key(configured: str, secret_key: str) -> Ed25519PrivateKey:
    if configured:
        try:
            seed = base64.b64decode(configured, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured("DLSAAS_AUDIT_SIGNING_KEY is not valid base64.") from None
        if len(seed) != 32:
            raise ImproperlyConfigured("DLSAAS_AUDIT_SIGNING_KEY must decode to 32 bytes.")
    else:
        seed = hashlib.sha256(b"dlsaas embedded audit signing key\0" + secret_key.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.AUDIT_SIGNING_KEY, settings.SECRET_KEY)


def is_configured() -> bool:
    return bool(settings.AUDIT_SIGNING_KEY)


def sign(data: bytes) -> bytes:
    return signing_key().sign(data)


def public_key_pem() -> bytes:
    return signing_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_fingerprint() -> str:
    """sha256 of the raw 32-byte public key, in hex: short enough to read out on the phone."""
    raw = signing_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
