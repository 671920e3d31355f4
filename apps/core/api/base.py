"""The base of every organisation-scoped API view.

The organisation is resolved before the handler runs: from the API token (a token belongs to one
organisation) or, for session authentication, from the session's current organisation, which the
user must still be a member of. Never from a header, query string or body field. The connection is
then scoped to that organisation (row-level security) and the method's scope checked. A method with
no scope declared is refused: the base denies by default.
"""

from rest_framework import exceptions
from rest_framework.generics import GenericAPIView

from apps.accounts.models import ApiToken
from apps.tenancy.context import activate
from apps.tenancy.middleware import SESSION_ORG_KEY
from apps.tenancy.permissions import actor_role, has_scope, require_scope
from apps.tenancy.selectors import membership_get

from .schema import OrgAutoSchema


def resolve_api_org(request):
    user = request.user
    if isinstance(request.auth, ApiToken):
        org = request.auth.organization
    else:
        org_id = request.session.get(SESSION_ORG_KEY) if hasattr(request, "session") else None
        if not org_id:
            raise exceptions.PermissionDenied(
                "No organisation selected: open one of your organisations first, or use an API token."
            )
        activate(org_id, user)
        membership = membership_get(org=org_id, user=user)
        if membership is None:
            raise exceptions.PermissionDenied("You are no longer a member of the selected organisation.")
        org = membership.organization
    activate(org, user)
    if actor_role(org=org, actor=user) is None:
        raise exceptions.PermissionDenied("You are not a member of this organisation.")
    if org.mfa_required and not _mfa_satisfied(request):
        raise exceptions.PermissionDenied(MFA_REQUIRED_DETAIL)
    return org


MFA_REQUIRED_DETAIL = (
    "This organisation requires two-factor authentication (MFA): set it up at /accounts/mfa/ and sign in with it; "
    "until then your API tokens for it are refused."
)


def _mfa_satisfied(request) -> bool:
    """A token's user needs a confirmed device; a session must have been verified with one (django-otp)."""
    if isinstance(request.auth, ApiToken):
        has_mfa = getattr(request.auth, "user_has_mfa", None)
        if has_mfa is None:
            from apps.accounts.services import mfa_device_of

            has_mfa = mfa_device_of(request.user) is not None
        return has_mfa
    return bool(getattr(request.user, "is_verified", lambda: False)())


class OrgApiView(GenericAPIView):
    # Subclasses declare `required_scopes = {"GET": "member.view", ...}` and `model`. (A comment, not a
    # docstring: drf-spectacular would show a docstring as every operation's description.)
    required_scopes: dict[str, str] = {}
    schema = OrgAutoSchema()  # paginated GETs are documented as lists (see schema.py)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.org = resolve_api_org(request)
        scope = self.required_scopes.get(request.method)
        if request.method == "HEAD" and scope is None:
            scope = self.required_scopes.get("GET")
        if request.method == "OPTIONS":
            return
        if scope is None:
            raise exceptions.MethodNotAllowed(request.method)
        require_scope(org=request.org, actor=request.user, scope=scope)

    def get_queryset(self):
        # Handlers read through selectors; schema generation (drf-spectacular) only needs the model.
        if getattr(self, "swagger_fake_view", False) and getattr(self, "model", None) is not None:
            return self.model._default_manager.none()
        return super().get_queryset()

    def actor_has(self, scope: str, obj=None) -> bool:
        return has_scope(org=self.request.org, actor=self.request.user, scope=scope, obj=obj)
