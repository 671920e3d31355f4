"""Writes of the tenancy app: organisations, memberships, invitations.

Each service checks the actor's scope, validates, saves, records the audit event and schedules the
live event on commit, in one transaction.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apps.compliance.services import audit_record, audit_record_committed
from apps.core.events import broadcast_on_commit, disconnect_user_on_commit

from .context import system_context, tenant_context
from .models import Invitation, Membership, Organization, hash_secret, normalise_domains, validate_region
from .permissions import actor_role, forget_roles, require_scope
from .roles import Role, can_grant

logger = logging.getLogger(__name__)
User = get_user_model()

POLICY_FIELDS = ("name", "mfa_required", "idle_logoff_minutes", "allowed_email_domains")


def _member_data(membership: Membership) -> dict:
    return {
        "id": membership.pk,
        "user_id": membership.user_id,
        "email": membership.user.email,
        "name": membership.user.display_name,
        "role": membership.role,
    }


def organization_create(*, name: str, slug: str = "", region: str, owner, actor=None) -> Organization:
    """Creates an organisation with `owner` as its first owner (operators and sign-up)."""
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"slug": "Give a slug of letters, digits and hyphens."})
    validate_region(region)
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name.strip(), slug=slug, region=region)
            with tenant_context(org):
                Membership.objects.create(organization=org, user=owner, role=Role.OWNER)
                audit_record(
                    org=org, actor=actor, action="organization.created", target=org,
                    after={"name": org.name, "slug": org.slug, "region": org.region, "owner": owner.email},
                )
    except IntegrityError:
        raise ValidationError({"slug": f"The slug {slug!r} is already taken."}) from None
    return org


def organization_update_policies(*, org: Organization, actor, **changes) -> Organization:
    require_scope(org=org, actor=actor, scope="org.manage")
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    if "allowed_email_domains" in changes:
        changes["allowed_email_domains"] = normalise_domains(changes["allowed_email_domains"])
    before = {field: getattr(org, field) for field in changes}
    for field, value in changes.items():
        setattr(org, field, value)
    org.full_clean()
    with transaction.atomic():
        org.save(update_fields=list(changes))
        audit_record(org=org, actor=actor, action="organization.updated", target=org, before=before, after=changes)
    return org


def membership_create(*, org: Organization, user, role: str, actor=None) -> Membership:
    """Adds a user directly (operators' command, invitation acceptance)."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if actor is not None:
        require_scope(org=org, actor=actor, scope="member.invite")
        _check_can_grant(org=org, actor=actor, role=role)
    try:
        with transaction.atomic(), tenant_context(org):
            membership = Membership.objects.create(organization=org, user=user, role=role)
            audit_record(
                org=org, actor=actor, action="member.added", target=membership,
                target_label=user.email, after={"email": user.email, "role": role},
            )
            broadcast_on_commit(org=org, topic="members", event="member.joined", data=_member_data(membership))
    except IntegrityError:
        raise ValidationError({"email": f"{user.email} is already a member of {org.name}."}) from None
    return membership


def _check_can_grant(*, org, actor, role: str) -> None:
    actor_role_name = actor_role(org=org, actor=actor)
    if not can_grant(actor_role_name, role):
        from apps.compliance.services import audit_denied

        audit_denied(org=org, actor=actor, reason=f"may not grant role {role}", metadata={"role": role})
        raise PermissionDenied(f"Your role ({actor_role_name}) cannot grant the role {role}.")


def _owner_count(org) -> int:
    return Membership.objects.for_org(org).filter(role=Role.OWNER).count()


def membership_change_role(*, org: Organization, actor, membership: Membership, role: str) -> Membership:
    require_scope(org=org, actor=actor, scope="member.change_role")
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
    if membership.user_id == actor.pk:
        raise PermissionDenied("You cannot change your own role; ask another owner or admin.")
    # Both the old and the new role must be within what the actor may grant (an admin cannot demote an owner).
    _check_can_grant(org=org, actor=actor, role=membership.role)
    _check_can_grant(org=org, actor=actor, role=role)
    if membership.role == role:
        return membership
    with transaction.atomic():
        locked = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and _owner_count(org) <= 1:
            raise ValidationError({"role": "An organisation keeps at least one owner."})
        before = {"role": locked.role}
        locked.role = role
        locked.save(update_fields=["role", "updated_at"])
        membership.role = role
        audit_record(
            org=org, actor=actor, action="member.role_changed", target=membership,
            target_label=membership.user.email, before=before, after={"role": role},
        )
        broadcast_on_commit(org=org, topic="members", event="member.role_changed", data=_member_data(membership))
    forget_roles(membership.user)
    return membership


def membership_remove(*, org: Organization, actor, membership: Membership) -> None:
    require_scope(org=org, actor=actor, scope="member.remove")
    if membership.user_id == actor.pk:
        raise PermissionDenied("You cannot remove yourself; ask another owner or admin.")
    _check_can_grant(org=org, actor=actor, role=membership.role)
    from apps.accounts.services import tokens_revoke_for_member

    with transaction.atomic():
        locked = Membership.objects.for_org(org).select_for_update().get(pk=membership.pk)
        if locked.role == Role.OWNER and _owner_count(org) <= 1:
            raise ValidationError({"role": "An organisation keeps at least one owner."})
        data = _member_data(membership)
        tokens_revoke_for_member(org=org, user=membership.user, actor=actor)
        locked.delete()
        audit_record(
            org=org, actor=actor, action="member.removed", target_type="tenancy.membership",
            target_id=membership.pk, target_label=membership.user.email, before={"role": data["role"]},
        )
        broadcast_on_commit(org=org, topic="members", event="member.removed", data=data)
        disconnect_user_on_commit(membership.user_id, org=org)


def invitation_accept_url(raw_token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("tenancy:invitation_accept", args=[raw_token])


def invitation_create(*, org: Organization, actor, email: str, role: str) -> tuple[Invitation, str]:
    """Invites an email address. Returns the invitation and its link (shown once to the inviter)."""
    require_scope(org=org, actor=actor, scope="member.invite")
    email = User.objects.normalize_email(email or "").strip().lower()
    if "@" not in email:
        raise ValidationError({"email": "Enter a valid email address."})
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
    _check_can_grant(org=org, actor=actor, role=role)
    if not org.email_allowed(email):
        raise ValidationError(
            {"email": f"{org.name} only admits addresses at: {', '.join(org.allowed_email_domains)}."}
        )
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {org.name}."})
    raw = Invitation.new_token()
    now = timezone.now()
    with transaction.atomic():
        # A new invitation replaces any pending one for the same address.
        Invitation.objects.for_org(org).filter(
            email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = Invitation.objects.create(
            organization=org, email=email, role=role, token_hash=hash_secret(raw), invited_by=actor,
            expires_at=now + timedelta(hours=settings.INVITATION_TTL_HOURS),
        )
        audit_record(
            org=org, actor=actor, action="invitation.created", target=invitation,
            after={"email": email, "role": role, "expires_at": invitation.expires_at},
        )
        url = invitation_accept_url(raw)
        transaction.on_commit(lambda: _send_invitation_email(org=org, invitation=invitation, url=url, actor=actor))
    return invitation, url


def _send_invitation_email(*, org, invitation, url, actor) -> None:
    context = {"org": org, "invitation": invitation, "url": url, "inviter": actor}
    try:
        send_mail(
            subject=f"You are invited to {org.name} on dlsaas",
            message=render_to_string("tenancy/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception:  # the inviter sees the link on screen and can pass it on by hand
        logger.exception("Could not send the invitation email for invitation %s", invitation.pk)


def invitation_revoke(*, org: Organization, actor, invitation: Invitation) -> Invitation:
    require_scope(org=org, actor=actor, scope="member.invite")
    if invitation.status != Invitation.Status.PENDING:
        raise ValidationError({"invitation": f"This invitation is already {invitation.status}."})
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(org=org, actor=actor, action="invitation.revoked", target=invitation)
    return invitation


class InvitationError(Exception):
    """An invitation link that cannot be used; the message is shown to the person holding it."""


def invitation_find(raw_token: str) -> Invitation:
    """The invitation behind a link, whatever its state. Looks across organisations by hash."""
    with system_context():
        invitation = (
            Invitation.objects.select_related("organization").filter(token_hash=hash_secret(raw_token or "")).first()
        )
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Ask for a new one.")
    return invitation


_REFUSALS = {
    Invitation.Status.ACCEPTED: "This invitation has already been used.",
    Invitation.Status.REVOKED: "This invitation was withdrawn. Ask for a new one.",
    Invitation.Status.EXPIRED: "This invitation has expired. Ask for a new one.",
}


def invitation_refusal(invitation: Invitation) -> str | None:
    """Why this invitation can no longer be used, in words; None while it is pending."""
    return _REFUSALS.get(invitation.status)


def invitation_accept(*, raw_token: str, user) -> Membership:
    """Turns a pending invitation into a membership, once. The user's email must be the invited one."""
    invitation = invitation_find(raw_token)
    org = invitation.organization
    refusal = None
    with transaction.atomic(), tenant_context(org, user):
        invitation = Invitation.objects.for_org(org).select_for_update().get(pk=invitation.pk)
        status = invitation.status
        if status != Invitation.Status.PENDING:
            refusal = ("invitation.reuse_refused", {"status": status}, invitation_refusal(invitation))
        elif user.email.lower() != invitation.email.lower():
            refusal = (
                "invitation.wrong_account",
                {"signed_in_as": user.email},
                f"This invitation is for {invitation.email}, but you are signed in as {user.email}. "
                "Sign out and open the link again.",
            )
        elif Membership.objects.for_org(org).filter(user_id=user.pk).exists():
            refusal = (
                "invitation.reuse_refused", {"status": "already_member"}, f"You are already a member of {org.name}."
            )
        else:
            invitation.accepted_at = timezone.now()
            invitation.accepted_by = user
            invitation.save(update_fields=["accepted_at", "accepted_by"])
            membership = Membership.objects.create(organization=org, user=user, role=invitation.role)
            audit_record(
                org=org, actor=user, action="invitation.accepted", target=invitation,
                after={"email": user.email, "role": invitation.role},
            )
            broadcast_on_commit(org=org, topic="members", event="member.joined", data=_member_data(membership))
    if refusal:
        action, metadata, message = refusal
        # Committed even when a caller's transaction (invitation_signup) rolls back on the error.
        audit_record_committed(org=org, actor=user, action=action, target=invitation, metadata=metadata)
        raise InvitationError(message)
    return membership


def invitation_signup(*, raw_token: str, full_name: str, password: str) -> Membership:
    """Creates the invited person's account and accepts the invitation, in one transaction.

    Raises InvitationError when the link cannot be used or the address already has an account (sign in
    instead), and ValidationError naming `password` when the password fails the policy.
    """
    from django.contrib.auth.password_validation import validate_password

    invitation = invitation_find(raw_token)
    refusal = invitation_refusal(invitation)
    if refusal:
        raise InvitationError(refusal)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise InvitationError(f"An account for {invitation.email} already exists: sign in to accept.")
    full_name = (full_name or "").strip()[:200]
    try:
        validate_password(password, User(email=invitation.email, full_name=full_name))
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user = User.objects.create_user(invitation.email, password, full_name=full_name)
        return invitation_accept(raw_token=raw_token, user=user)


# Break-glass (issue 8): a member opens a short elevation to a higher role's scopes with a reason; it lapses by
# itself, compliance officers are told at once, and every audit event meanwhile is tagged with its id.
BREAK_GLASS_MIN_REASON = 20
BREAK_GLASS_MAX_MINUTES = 4 * 60


def _break_glass_data(elevation) -> dict:
    return {
        "id": elevation.pk, "user_id": elevation.user_id, "email": elevation.user.email, "role": elevation.role,
        "reason": elevation.reason, "started_at": elevation.started_at.isoformat(),
        "expires_at": elevation.expires_at.isoformat(),
        "ended_at": elevation.ended_at.isoformat() if elevation.ended_at else None,
    }


def break_glass_open(*, org: Organization, actor, reason: str, minutes: int, role: str = Role.ADMIN):
    from .models import BreakGlass
    from .roles import SCOPES

    require_scope(org=org, actor=actor, scope="org.view")
    reason = (reason or "").strip()
    errors = {}
    if len(reason) < BREAK_GLASS_MIN_REASON:
        errors["reason"] = f"Say why, in at least {BREAK_GLASS_MIN_REASON} characters: it goes to the audit trail."
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= BREAK_GLASS_MAX_MINUTES:
        errors["minutes"] = f"An elevation lasts between 1 and {BREAK_GLASS_MAX_MINUTES} minutes (4 hours)."
    if role not in BreakGlass.ELEVATED_ROLES:
        errors["role"] = f"Elevate to one of: {', '.join(str(r) for r in BreakGlass.ELEVATED_ROLES)}."
    if errors:
        raise ValidationError(errors)
    current = actor_role(org=org, actor=actor)
    if all(current in roles for roles in SCOPES.values() if role in roles):
        raise ValidationError({"role": "Your role already allows everything this elevation would give."})
    now = timezone.now()
    with transaction.atomic():
        if BreakGlass.objects.for_org(org).active(now).filter(user_id=actor.pk).exists():
            raise ValidationError({"non_field_errors": "You already have an active elevation; end it first."})
        elevation = BreakGlass.objects.create(
            organization_id=org.pk, user=actor, role=role, reason=reason[:2000], started_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        audit_record(
            org=org, actor=actor, action="break_glass.opened", target=elevation,
            after={"role": role, "reason": elevation.reason, "expires_at": elevation.expires_at},
            metadata={"break_glass": elevation.pk},
        )
        broadcast_on_commit(org=org, topic="audit", event="break_glass.opened", data=_break_glass_data(elevation))
    forget_roles(actor)
    return elevation


def break_glass_end(*, org: Organization, actor, elevation):
    """Ends an elevation early: by its holder, or by someone who reads the audit trail (owner, compliance)."""
    if elevation.user_id != actor.pk:
        require_scope(org=org, actor=actor, scope="audit.view")
    if elevation.ended_at is not None or elevation.expires_at <= timezone.now():
        return elevation
    with transaction.atomic():
        elevation.ended_at = timezone.now()
        elevation.ended_by = actor
        elevation.save(update_fields=["ended_at", "ended_by"])
        audit_record(
            org=org, actor=actor, action="break_glass.ended", target=elevation,
            after={"ended_at": elevation.ended_at}, metadata={"break_glass": elevation.pk},
        )
        broadcast_on_commit(org=org, topic="audit", event="break_glass.ended", data=_break_glass_data(elevation))
    forget_roles(actor)
    return elevation
