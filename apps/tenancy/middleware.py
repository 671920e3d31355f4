"""Resolves the organisation of a page from its URL (/o/<org_slug>/...) before the view runs.

The organisation never comes from the request body: the slug in the URL names it and the user's
membership admits them. Every request starts with the connection scoped to no organisation (only
the user's own memberships are readable) and ends by restoring what was there before.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from .context import NO_TENANT, TenantState, activate, set_state
from .selectors import membership_get, organization_get_by_slug

SESSION_ORG_KEY = "current_org_id"
SESSION_IDLE_KEY = "idle_logoff_minutes"


def remember_current_org(request, org) -> None:
    """The session's organisation: the one API calls with session authentication act in."""
    if request.session.get(SESSION_ORG_KEY) != org.pk:
        request.session[SESSION_ORG_KEY] = org.pk
    if request.session.get(SESSION_IDLE_KEY) != org.idle_logoff_minutes:
        request.session[SESSION_IDLE_KEY] = org.idle_logoff_minutes


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.org = None
        request.membership = None
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        if user_id is None and connection.connection is None:
            # No connection yet, so nothing to reset: a new one starts with no tenant. Anonymous
            # requests such as /healthz then never touch the database.
            previous = NO_TENANT
        else:
            previous = set_state(TenantState(user_id=user_id))
        try:
            return self.get_response(request)
        finally:
            if connection.connection is not None:
                set_state(previous)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("org_slug")
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        org = organization_get_by_slug(slug)
        membership = None
        if org is not None:
            activate(org, request.user)
            membership = membership_get(org=org, user=request.user)
        if membership is None:
            if org is not None:
                from apps.compliance.services import audit_denied

                audit_denied(org=org, actor=request.user, reason="not a member", metadata={"path": request.path})
                activate(None, request.user)
            raise Http404("No such organisation, or you are not a member of it.")
        request.org = org
        request.membership = membership
        remember_current_org(request, org)
        if org.mfa_required and not _is_verified(request.user):
            return redirect(f"{reverse('accounts:mfa')}?next={request.path}")
        return None


def _is_verified(user) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())
