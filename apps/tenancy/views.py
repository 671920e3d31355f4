"""Pages of the tenancy app: home, organisation switcher, members, invitations, settings.

Org pages live under /o/<org_slug>/: TenantMiddleware has already checked the membership and set
request.org and request.membership. Each view parses, authorises, calls one service and redirects.
"""

import copy
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.selectors import user_exists_with_email
from apps.core.forms import add_service_errors
from apps.core.redirects import safe_next

from . import selectors, services
from .access import access_break_glass, access_invitation, access_membership
from .forms import BreakGlassForm, InvitationForm, InvitationSignupForm, OrganizationSettingsForm
from .middleware import SESSION_ORG_KEY, remember_current_org
from .models import BreakGlass, Invitation
from .permissions import active_elevation, has_scope, require_scope
from .roles import GRANTABLE_ROLES, SCOPES, Role

# The accept link of a just-created invitation, shown once on the next members page.
SESSION_NEW_INVITATION = "new_invitation"


def home(request):
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    memberships = list(selectors.memberships_of_user(request.user))
    if not memberships:
        return render(request, "tenancy/no_org.html")
    current_id = request.session.get(SESSION_ORG_KEY)
    chosen = next((m for m in memberships if m.organization_id == current_id), memberships[0])
    return redirect("tenancy:org_home", org_slug=chosen.organization.slug)


@login_required
@require_POST
def org_switch(request):
    org = selectors.organization_get_by_slug(request.POST.get("org", ""))
    membership = selectors.membership_get(org=org, user=request.user) if org is not None else None
    if membership is None:
        if org is not None:
            from apps.compliance.services import audit_denied

            audit_denied(org=org, actor=request.user, reason="not a member", metadata={"path": request.path})
        raise Http404("No such organisation, or you are not a member of it.")
    remember_current_org(request, org)
    messages.success(request, f"You are now working in {org.name}.")
    return redirect(safe_next(request, request.POST.get("next")) or reverse("tenancy:org_home", args=[org.slug]))


def org_home(request, org_slug):
    org = request.org
    context = {
        "role_label": Role(request.membership.role).label,
        "member_count": selectors.membership_list(org=org, actor=request.user).count(),
        "pending_invitation_count": (
            selectors.invitation_list(org=org, actor=request.user, pending_only=True).count()
            if has_scope(org=org, actor=request.user, scope="member.invite")
            else None
        ),
    }
    return render(request, "tenancy/org_home.html", context)


# --- Members -------------------------------------------------------------------------------


def _grantable_roles(request) -> frozenset:
    return GRANTABLE_ROLES.get(request.membership.role, frozenset())


def _render_members(request, *, invite_form=None, row_errors=None, status=200):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="member.view")
    grantable = _grantable_roles(request)
    may_invite = has_scope(org=org, actor=actor, scope="member.invite") and bool(grantable)
    context = {
        "members": selectors.membership_list(org=org, actor=actor),
        "invitations": selectors.invitation_list(org=org, actor=actor, pending_only=True) if may_invite else [],
        "may_invite": may_invite,
        "invite_form": invite_form or InvitationForm(roles=grantable),
        "grantable_roles": [(role.value, role.label) for role in Role if role in grantable],
        "grantable_values": [role.value for role in Role if role in grantable],
        "role_labels": {role.value: role.label for role in Role},
        "row_errors": row_errors or {},
        "new_invitation": request.session.pop(SESSION_NEW_INVITATION, None),
    }
    return render(request, "tenancy/members.html", context, status=status)


def members(request, org_slug):
    return _render_members(request)


@require_POST
def member_change_role(request, org_slug, membership_id):
    membership = access_membership(
        org=request.org, actor=request.user, membership_id=membership_id, scope="member.change_role"
    )
    role = request.POST.get("role", "")
    try:
        services.membership_change_role(org=request.org, actor=request.user, membership=membership, role=role)
    except ValidationError as exc:
        return _render_members(request, row_errors={membership.pk: " ".join(exc.messages)}, status=400)
    except PermissionDenied as exc:
        return _render_members(request, row_errors={membership.pk: str(exc)}, status=403)
    messages.success(request, f"{membership.user.email} is now {Role(role).label}.")
    return redirect("tenancy:members", org_slug=request.org.slug)


@require_http_methods(["GET", "POST"])
def member_remove(request, org_slug, membership_id):
    membership = access_membership(
        org=request.org, actor=request.user, membership_id=membership_id, scope="member.remove"
    )
    error = None
    if request.method == "POST":
        try:
            services.membership_remove(org=request.org, actor=request.user, membership=membership)
        except (ValidationError, PermissionDenied) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            messages.success(request, f"{membership.user.email} was removed from {request.org.name}.")
            return redirect("tenancy:members", org_slug=request.org.slug)
    return render(
        request, "tenancy/member_remove.html", {"member": membership, "error": error}, status=400 if error else 200
    )


# --- Invitations ---------------------------------------------------------------------------


@require_POST
def invitation_create(request, org_slug):
    require_scope(org=request.org, actor=request.user, scope="member.invite")
    form = InvitationForm(request.POST, roles=_grantable_roles(request))
    status = 400
    if form.is_valid():
        try:
            invitation, url = services.invitation_create(
                org=request.org, actor=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            request.session[SESSION_NEW_INVITATION] = {
                "email": invitation.email, "role": Role(invitation.role).label, "url": url,
            }
            messages.success(
                request, f"Invitation created for {invitation.email}. An email with the link is on its way."
            )
            return redirect("tenancy:members", org_slug=request.org.slug)
    return _render_members(request, invite_form=form, status=status)


@require_POST
def invitation_revoke(request, org_slug, invitation_id):
    invitation = access_invitation(org=request.org, actor=request.user, invitation_id=invitation_id)
    try:
        services.invitation_revoke(org=request.org, actor=request.user, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The invitation for {invitation.email} was withdrawn; its link no longer works.")
    return redirect("tenancy:members", org_slug=request.org.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    try:
        invitation = services.invitation_find(token)
    except services.InvitationError as exc:
        return _invitation_refused(request, str(exc), status=400)
    org = invitation.organization
    # A signed-in POST still goes through invitation_accept, which records the refused reuse.
    refusal = services.invitation_refusal(invitation)
    if refusal and (request.method == "GET" or not request.user.is_authenticated):
        return _invitation_refused(request, refusal, status=410)

    if request.user.is_authenticated:
        if request.method == "POST":
            return _accept_signed_in(request, token, invitation)
        return render(request, "tenancy/invitation_accept.html", {
            "invitation": invitation, "org": org, "role_label": Role(invitation.role).label,
            "wrong_account": request.user.email.lower() != invitation.email.lower(),
        })

    has_account = user_exists_with_email(invitation.email)
    form = None if has_account else InvitationSignupForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if form is not None and form.is_bound and form.is_valid():
        try:
            membership = services.invitation_signup(
                raw_token=token, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except services.InvitationError as exc:
            return _invitation_refused(request, str(exc), status=410)
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to {org.name}. Your account is ready.")
        return redirect("tenancy:org_home", org_slug=org.slug)
    return render(
        request,
        "tenancy/invitation_accept.html",
        {
            "invitation": invitation, "org": org, "role_label": Role(invitation.role).label,
            "has_account": has_account, "form": form,
            "login_url": f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': request.path})}",
        },
        status=400 if form is not None and form.is_bound else 200,
    )


def _accept_signed_in(request, token, invitation):
    try:
        membership = services.invitation_accept(raw_token=token, user=request.user)
    except services.InvitationError as exc:
        gone = invitation.status != Invitation.Status.PENDING
        return _invitation_refused(request, str(exc), status=410 if gone else 400)
    org = membership.organization
    remember_current_org(request, org)
    messages.success(request, f"You joined {org.name} as {Role(membership.role).label}.")
    return redirect("tenancy:org_home", org_slug=org.slug)


def _invitation_refused(request, message: str, *, status: int):
    return render(request, "tenancy/invitation_refused.html", {"message": message}, status=status)


# --- Settings ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def org_settings(request, org_slug):
    org = request.org
    require_scope(org=org, actor=request.user, scope="org.manage")
    if request.method != "POST":
        form = OrganizationSettingsForm(initial=OrganizationSettingsForm.initial_from(org))
        return render(request, "tenancy/settings.html", {"form": form})
    form = OrganizationSettingsForm(request.POST)
    if form.is_valid():
        changes = {field: value for field, value in form.cleaned_data.items() if getattr(org, field) != value}
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("tenancy:settings", org_slug=org.slug)
        try:
            # A copy, so a refused change never shows up in this page's header.
            services.organization_update_policies(org=copy.copy(org), actor=request.user, **changes)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The organisation settings were saved.")
            return redirect("tenancy:settings", org_slug=org.slug)
    return render(request, "tenancy/settings.html", {"form": form}, status=400)


# --- Break-glass ---------------------------------------------------------------------------

BREAK_GLASS_HISTORY_PER_PAGE = 50


def _elevating_roles(role: str) -> list[Role]:
    """The roles an elevation would give this role something more through (the service refuses the others)."""
    return [r for r in BreakGlass.ELEVATED_ROLES
            if not all(role in roles for roles in SCOPES.values() if r in roles)]


@require_http_methods(["GET", "POST"])
def break_glass(request, org_slug):
    """Open a short elevation with a reason, see and end one's active one; owners and compliance officers also see
    (and may end) everyone's, others only their own."""
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="org.view")
    roles = _elevating_roles(request.membership.role)
    form = BreakGlassForm(request.POST if request.method == "POST" else None, roles=roles)
    if request.method == "POST" and form.is_valid():
        try:
            elevation = services.break_glass_open(org=org, actor=actor, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"You are elevated to {Role(elevation.role).label} until "
                                      f"{elevation.expires_at:%H:%M} UTC. Compliance officers have been told.")
            return redirect("tenancy:break_glass", org_slug=org.slug)
    page = Paginator(selectors.break_glass_list(org=org, actor=actor).select_related("ended_by"),
                     BREAK_GLASS_HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    for elevation in page.object_list:
        elevation.active = elevation.is_active_at(now)
    active = active_elevation(org=org, actor=actor)
    context = {
        "form": form, "roles": roles, "page": page, "sees_all": has_scope(org=org, actor=actor, scope="audit.view"),
        "active": {"id": active[0], "role": Role(active[1]).label, "expires_at": active[2]} if active else None,
    }
    return render(request, "tenancy/break_glass.html", context, status=400 if form.errors else 200)


@require_POST
def break_glass_end(request, org_slug, break_glass_id):
    elevation = access_break_glass(org=request.org, actor=request.user, break_glass_id=break_glass_id)
    elevation = services.break_glass_end(org=request.org, actor=request.user, elevation=elevation)
    whose = "Your" if elevation.user_id == request.user.pk else f"{elevation.user.email}'s"
    messages.success(request, f"{whose} elevation to {Role(elevation.role).label} has ended.")
    return redirect("tenancy:break_glass", org_slug=request.org.slug)
