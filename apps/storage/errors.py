"""What the storage services raise, each with a message a person can act on."""

from django.core.exceptions import ValidationError


class StorageError(Exception):
    """Base of the storage app's own failures."""


class ResidencyError(StorageError):
    """An organisation's bytes were about to be written to, or read from, outside its region.

    Always recorded in the organisation's audit chain as `storage.residency_violation` before it is raised.
    """


class BlobCorrupted(StorageError):
    """The ciphertext fails authentication: changed, truncated, extended, reordered or under the wrong key."""


class BlobMissing(BlobCorrupted):
    """The ciphertext the row points at is not in the region's backend."""


class KeyUnavailable(StorageError):
    """The key needed to wrap or unwrap is not there: a master key no longer configured, or an
    organisation key that was destroyed (crypto-shredded)."""


class BlobTooLarge(ValidationError):
    """The stream is larger than the caller's limit; nothing was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The content is larger than the limit of {max_bytes} bytes.", code="too_large")
        self.max_bytes = max_bytes
