"""Fetch and authorise one object. Missing and forbidden raise the same 404 (no existence oracle)."""

from django.http import Http404

from apps.core.ids import parse_id

from .models import Invitation, Membership
from .permissions import has_scope


def deny_not_found(*, org, actor, target_type: str, target_id, scope: str):
    from apps.compliance.services import audit_denied

    audit_denied(
        org=org, actor=actor, reason="not found or not allowed", target_type=target_type,
        target_id=str(target_id)[:64], metadata={"scope": scope},
    )
    raise Http404("Not found.")


def access_membership(*, org, actor, membership_id, scope: str = "member.view") -> Membership:
    pk = parse_id(membership_id)
    membership = (
        Membership.objects.for_org(org).select_related("user").filter(pk=pk).first() if pk else None
    )
    if membership is None or not has_scope(org=org, actor=actor, scope=scope, obj=membership):
        deny_not_found(org=org, actor=actor, target_type="tenancy.membership", target_id=membership_id, scope=scope)
    return membership


def access_invitation(*, org, actor, invitation_id, scope: str = "member.invite") -> Invitation:
    pk = parse_id(invitation_id)
    invitation = Invitation.objects.for_org(org).filter(pk=pk).first() if pk else None
    if invitation is None or not has_scope(org=org, actor=actor, scope=scope, obj=invitation):
        deny_not_found(org=org, actor=actor, target_type="tenancy.invitation", target_id=invitation_id, scope=scope)
    return invitation


def access_break_glass(*, org, actor, break_glass_id):
    """An elevation its holder, an owner or a compliance officer may see; 404 otherwise."""
    from .models import BreakGlass

    pk = parse_id(break_glass_id)
    elevation = BreakGlass.objects.for_org(org).select_related("user").filter(pk=pk).first() if pk else None
    if elevation is None or (elevation.user_id != actor.pk and not has_scope(org=org, actor=actor, scope="audit.view")):
        deny_not_found(org=org, actor=actor, target_type="tenancy.breakglass", target_id=break_glass_id,
                       scope="audit.view")
    return elevation
