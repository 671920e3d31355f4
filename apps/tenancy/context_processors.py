from django.utils.functional import SimpleLazyObject

from .permissions import active_elevation
from .roles import SCOPES
from .selectors import memberships_of_user


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    org = getattr(request, "org", None)
    return {
        "current_org": org,
        "current_membership": membership,
        "my_memberships": SimpleLazyObject(lambda: list(memberships_of_user(user))),
        # {% if can.member_invite %}: the scopes of the member's role, and of the role a break-glass elevation lends
        # while it lasts, for showing or hiding controls (the views decide with has_scope).
        "can": SimpleLazyObject(lambda: _scopes_shown(org, user, membership)),
    }


def _scopes_shown(org, user, membership) -> dict:
    roles_held = set()
    if membership is not None:
        roles_held.add(membership.role)
        elevation = active_elevation(org=org, actor=user)
        if elevation is not None:
            roles_held.add(elevation[1])
    return {scope.replace(".", "_"): bool(roles_held & roles) for scope, roles in SCOPES.items()}
