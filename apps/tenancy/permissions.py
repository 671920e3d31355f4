"""Does this person hold this scope in this organisation (or on this one object)?"""

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from guardian.core import ObjectPermissionChecker

from .base import org_id_of
from .models import BreakGlass, Membership
from .roles import OBJECT_GRANTS, role_has_scope

_CACHE_ATTR = "_dlsaas_roles"
_ELEVATION = "elevation"


def _elevation_key(org_id) -> tuple:
    return (_ELEVATION, org_id)


def actor_role(*, org, actor) -> str | None:
    """The actor's role in org, cached on the user object for the length of one request."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return None
    org_id = org_id_of(org)
    cache = actor.__dict__.setdefault(_CACHE_ATTR, {})
    if org_id not in cache:
        # The member's active break-glass elevation comes in the same query (one subquery per field it needs).
        active = BreakGlass.objects.for_org(org_id).active().filter(user_id=OuterRef("user_id")).order_by("-expires_at")
        row = (
            Membership.objects.for_org(org_id).filter(user_id=actor.pk)
            .annotate(bg_id=Subquery(active.values("id")[:1]), bg_role=Subquery(active.values("role")[:1]),
                      bg_expires=Subquery(active.values("expires_at")[:1]))
            .values_list("role", "bg_id", "bg_role", "bg_expires").first()
        )
        cache[org_id] = row[0] if row else None
        cache[_elevation_key(org_id)] = (row[1], row[2], row[3]) if row and row[1] else None
    return cache[org_id]


def remember_role(*, org, actor, role: str | None, elevation: tuple | None = None) -> None:
    """Primes the per-request cache with a role read elsewhere in the same request (the token lookup reads the
    membership in the same query as the token), so actor_role does not ask again. `elevation` is the active
    break-glass as (id, role, expires_at), or None."""
    cache = actor.__dict__.setdefault(_CACHE_ATTR, {})
    cache[org_id_of(org)] = role
    cache[_elevation_key(org_id_of(org))] = elevation if role is not None else None


def active_elevation(*, org, actor) -> tuple | None:
    """The actor's break-glass elevation in org as (id, role, expires_at) while it lasts, else None. Expiry is
    checked on every call, so a cached elevation lapses on time even within a long request or socket."""
    if actor_role(org=org, actor=actor) is None:
        return None
    elevation = actor.__dict__.get(_CACHE_ATTR, {}).get(_elevation_key(org_id_of(org)))
    if elevation is None or elevation[2] <= timezone.now():
        return None
    return elevation


def cached_elevation_id(*, org_id, actor) -> int | None:
    """The active elevation already known for this request, without a query (for tagging audit events)."""
    cache = getattr(actor, "__dict__", {}).get(_CACHE_ATTR) or {}
    elevation = cache.get(_elevation_key(org_id))
    if elevation is None or elevation[2] <= timezone.now():
        return None
    return elevation[0]


def tag_break_glass(*, org_id, actor, metadata: dict | None) -> dict | None:
    """Audit hook: marks an event with the actor's active elevation (known from this request's scope checks)."""
    if org_id is None or actor is None:
        return metadata
    elevation_id = cached_elevation_id(org_id=org_id, actor=actor)
    if elevation_id is None:
        return metadata
    return {**(metadata or {}), "break_glass": elevation_id}


def forget_roles(actor) -> None:
    actor.__dict__.pop(_CACHE_ATTR, None)


def has_scope(*, org, actor, scope: str, obj=None) -> bool:
    role = actor_role(org=org, actor=actor)
    if role is None:
        return False
    if role_has_scope(role, scope):
        return True
    elevation = active_elevation(org=org, actor=actor)
    if elevation is not None and role_has_scope(elevation[1], scope):
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
