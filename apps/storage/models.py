from django.db import models
from django.utils import timezone

from apps.tenancy.base import TenantOwnedModel


class OrgKey(TenantOwnedModel):
    """One version of an organisation's key-encryption key, itself wrapped by the master key.

    Data keys of objects are wrapped by an OrgKey version. Rotating adds a version and re-wraps the
    data keys (a few bytes each), never the objects. Destroying every version of an organisation's
    key makes its bytes unreadable everywhere, backups included (crypto-shredding).
    """

    version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "version"], name="orgkey_one_per_version")]

    def __str__(self) -> str:
        return f"key v{self.version} of organisation {self.organization_id}"


class SubjectKey(TenantOwnedModel):
    """One data subject's key-encryption key (crypto-shredding per person), wrapped by an organisation key version.

    The data keys of the subject's objects (item content, thumbnails, access bundles) are wrapped by it instead of
    the organisation key. Erasure destroys it: `wrapped_key` is emptied and `destroyed_at` set, so the objects'
    ciphertext, wherever a copy of it lies, can no longer be decrypted. The subject is named only by its pseudonym
    (apps/compliance/gdpr.subject_pseudonym). A subject whose key was destroyed gets a new one if data about them
    arrives again.
    """

    pseudonym = models.CharField(max_length=64)
    org_key_version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "pseudonym"],
                                               condition=models.Q(destroyed_at__isnull=True),
                                               name="subjectkey_one_live_per_subject")]

    def __str__(self) -> str:
        return f"subject key {self.pseudonym[:12]} of organisation {self.organization_id}"


class Blob(TenantOwnedModel):
    """Encrypted bytes in the organisation's region. The plaintext's size and sha256 are kept.

    `org_key_version` is the organisation key version the data key depends on: directly, or through the subject
    key that wraps it (which that version wraps)."""

    region = models.CharField(max_length=20)
    key = models.CharField(max_length=300, help_text="Path of the ciphertext in the region's backend.")
    size = models.BigIntegerField(help_text="Plaintext size in bytes.")
    sha256 = models.CharField(max_length=64, help_text="Of the plaintext.")
    mime = models.CharField(max_length=127, blank=True)
    org_key_version = models.PositiveIntegerField()
    wrapped_data_key = models.BinaryField()
    chunk_size = models.PositiveIntegerField()
    subject_key = models.ForeignKey(
        SubjectKey, on_delete=models.RESTRICT, null=True, blank=True, related_name="+",
        help_text="When set, the data key is wrapped by this subject's key, not by the organisation key.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "key"], name="blob_unique_key_per_region")]
        indexes = [models.Index(fields=["organization", "org_key_version"], name="blob_org_keyversion")]

    def __str__(self) -> str:
        return f"{self.region}:{self.key}"
