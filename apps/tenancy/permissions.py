"""Does this person hold this scope in this organisation (or on this one object)?"""

from django.core.exceptions import PermissionDenied
from guardian.core import ObjectPermissionChecker

from .base import org_id_of
from .models import Membership
from .roles import OBJECT_GRANTS, role_has_scope

_CACHE_ATTR = "_dlsaas_roles"


def actor_role(*, org, actor) -> str | None:
    """The actor's role in org, cached on the user object for the length of one request."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return None
    org_id = org_id_of(org)
    cache = actor.__dict__.setdefault(_CACHE_ATTR, {})
    if org_id not in cache:
        cache[org_id] = (
            Membership.objects.for_org(org_id).filter(user_id=actor.pk).values_list("role", flat=True).first()
        )
    return cache[org_id]


def remember_role(*, org, actor, role: str | None) -> None:
    """Primes the per-request cache with a role read elsewhere in the same request (the token lookup reads the
    membership in the same query as the token), so actor_role does not ask again."""
    actor.__dict__.setdefault(_CACHE_ATTR, {})[org_id_of(org)] = role


def forget_roles(actor) -> None:
    actor.__dict__.pop(_CACHE_ATTR, None)


def has_scope(*, org, actor, scope: str, obj=None) -> bool:
    role = actor_role(org=org, actor=actor)
    if role is None:
        return False
    if role_has_scope(role, scope):
        return True
    perm = OBJECT_GRANTS.get(scope)
    if perm is None:
        return False
    return ObjectPermissionChecker(actor).has_perm(perm, obj if obj is not None else org)


def require_scope(*, org, actor, scope: str, obj=None) -> None:
    """Raises PermissionDenied (403) and records the attempt when the actor lacks the scope."""
    if has_scope(org=org, actor=actor, scope=scope, obj=obj):
        return
    from apps.compliance.services import audit_denied

    audit_denied(org=org, actor=actor, reason=f"missing scope {scope}", metadata={"scope": scope})
    raise PermissionDenied(f"Your role does not allow {scope}.")
