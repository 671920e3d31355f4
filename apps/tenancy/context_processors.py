from django.utils.functional import SimpleLazyObject

from .roles import SCOPES
from .selectors import memberships_of_user


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "current_org": getattr(request, "org", None),
        "current_membership": membership,
        "my_memberships": SimpleLazyObject(lambda: list(memberships_of_user(user))),
        # {% if can.member_invite %}: the role's baseline scopes, for showing or hiding controls.
        "can": {
            scope.replace(".", "_"): membership is not None and membership.role in roles
            for scope, roles in SCOPES.items()
        },
    }
