"""Writes of the accounts app: API tokens and MFA, and the audit of what happens to an account."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.compliance.services import audit_record
from apps.tenancy.context import system_context
from apps.tenancy.models import Membership
from apps.tenancy.permissions import has_scope, require_scope

from .models import ApiToken

MAX_TOKEN_DAYS = 366


def audit_account_event(*, user, action: str, actor=None, actor_label: str | None = None, metadata=None) -> None:
    """Records an account event (login, logout, MFA change) in every organisation the user belongs to,
    so each one's compliance officer sees it; a user with no organisation goes to the platform chain."""
    with system_context():
        org_ids = list(Membership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True))
    for org_id in org_ids or [None]:
        audit_record(
            org=org_id, actor=actor if actor is not None else user, action=action, target=user,
            target_label=user.email, actor_label=actor_label, metadata=metadata,
        )


def token_create(*, org, actor, name: str, days: int | None = 90) -> tuple[ApiToken, str]:
    """Creates a token for the actor in org. Returns it with the raw value, which is never stored."""
    require_scope(org=org, actor=actor, scope="token.manage_own")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the script that will use it."})
    if days is not None and not (1 <= days <= MAX_TOKEN_DAYS):
        raise ValidationError({"days": f"A token lives between 1 and {MAX_TOKEN_DAYS} days."})
    raw, key_id, key_hash = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            organization_id=org.pk, user=actor, name=name[:100], key_id=key_id, key_hash=key_hash,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        audit_record(
            org=org, actor=actor, action="token.created", target=token,
            after={"name": token.name, "key_id": key_id, "expires_at": token.expires_at},
        )
    return token, raw


def token_revoke(*, org, actor, token: ApiToken) -> ApiToken:
    if token.user_id != actor.pk and not has_scope(org=org, actor=actor, scope="token.manage_all"):
        require_scope(org=org, actor=actor, scope="token.manage_all")
    if token.revoked_at:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(org=org, actor=actor, action="token.revoked", target=token, metadata={"owner": token.user.email})
    return token


def tokens_revoke_for_member(*, org, user, actor) -> int:
    """Revokes a departing member's tokens in org (called inside membership_remove's transaction)."""
    now = timezone.now()
    tokens = list(ApiToken.objects.for_org(org).filter(user_id=user.pk, revoked_at__isnull=True))
    for token in tokens:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit_record(org=org, actor=actor, action="token.revoked", target=token, metadata={"reason": "member removed"})
    return len(tokens)


def mfa_device_of(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def mfa_begin_setup(*, user) -> TOTPDevice:
    """An unconfirmed TOTP device for the user to scan; replaces any earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def mfa_confirm(*, user, device: TOTPDevice, code: str) -> TOTPDevice:
    if device.user_id != user.pk or device.confirmed:
        raise PermissionDenied("This device cannot be confirmed.")
    if not device.verify_token((code or "").strip().replace(" ", "")):
        raise ValidationError({"code": "That code is not valid. Check your phone's clock and try the current code."})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_account_event(user=user, action="user.mfa_enabled")
    return device


def mfa_disable(*, user, password: str) -> None:
    if not user.check_password(password or ""):
        raise ValidationError({"password": "Your password is not correct."})
    with system_context():
        blocking = list(
            Membership.objects.filter(user_id=user.pk, organization__mfa_required=True)
            .values_list("organization__name", flat=True)
        )
    if blocking:
        raise ValidationError({"password": f"{', '.join(blocking)} require two-factor authentication."})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        audit_account_event(user=user, action="user.mfa_disabled")
