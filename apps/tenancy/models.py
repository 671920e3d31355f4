import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from .base import TenantOwnedModel, TenantQuerySet
from .roles import Role


def validate_region(value: str) -> None:
    if value not in settings.REGIONS:
        raise ValidationError(
            f"Unknown region {value!r}; configured regions are: {', '.join(settings.REGIONS)}."
        )


def normalise_domains(domains) -> list[str]:
    return sorted({d.strip().lower().lstrip("@") for d in domains or [] if d and d.strip()})


class Organization(models.Model):
    """A customer. Global: it is the tenant itself."""

    tenancy = "global"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    region = models.CharField(max_length=20, validators=[validate_region])
    mfa_required = models.BooleanField(default=False)
    idle_logoff_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    allowed_email_domains = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("view_audit_log", "Can read this organisation's audit log")]

    def __str__(self) -> str:
        return self.name

    def email_allowed(self, email: str) -> bool:
        if not self.allowed_email_domains:
            return True
        domain = email.rsplit("@", 1)[-1].lower()
        return domain in self.allowed_email_domains


class MembershipQuerySet(TenantQuerySet):
    def for_user(self, user):
        return self.filter(user_id=user.pk)


class Membership(TenantOwnedModel):
    # A user may list their own memberships in every organisation (the organisation switcher).
    rls_extra_read_condition = "user_id = NULLIF(current_setting('app.current_user', true), '')::bigint"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_one_per_user_and_org"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]
        indexes = [models.Index(fields=["organization", "role"], name="membership_org_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization_id} as {self.role}"


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(TenantOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index("organization", Lower("email"), name="invitation_org_email")]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.role}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING


class BreakGlassQuerySet(TenantQuerySet):
    def active(self, at=None):
        return self.filter(ended_at__isnull=True, expires_at__gt=at or timezone.now())


class BreakGlass(TenantOwnedModel):
    """A time-limited elevation of one member to a higher role's scopes, opened with a reason (issue 8).

    Honoured by has_scope until it expires or is ended; every audit event its holder causes meanwhile carries
    metadata.break_glass = its id."""

    ELEVATED_ROLES = (Role.ADMIN, Role.MANAGER, Role.COMPLIANCE_OFFICER)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="break_glasses")
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.ADMIN)
    reason = models.TextField()
    started_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = BreakGlassQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "user", "expires_at"], name="breakglass_org_user_exp")]

    def __str__(self) -> str:
        return f"break-glass {self.pk} of {self.user_id} as {self.role}"

    def is_active_at(self, now) -> bool:
        return self.ended_at is None and self.expires_at > now
