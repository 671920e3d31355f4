from django.db.models import QuerySet

from .models import Invitation, Membership, Organization


def organization_ids() -> list[int]:
    return list(Organization.objects.order_by("pk").values_list("pk", flat=True))


def organization_get_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def membership_list(*, org, actor=None, role: str = "") -> QuerySet[Membership]:
    qs = Membership.objects.for_org(org).select_related("user").order_by("user__email")
    return qs.filter(role=role) if role else qs


def membership_get(*, org, user) -> Membership | None:
    return Membership.objects.for_org(org).filter(user_id=user.pk).select_related("organization").first()


def memberships_of_user(user) -> QuerySet[Membership]:
    """Every organisation the user belongs to (RLS lets a user read their own memberships)."""
    return Membership.objects.for_user(user).select_related("organization").order_by("organization__name")


def invitation_list(*, org, actor=None, pending_only: bool = False) -> QuerySet[Invitation]:
    qs = Invitation.objects.for_org(org).select_related("invited_by").order_by("-created_at", "-id")
    if pending_only:
        from django.utils import timezone

        qs = qs.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
    return qs


def membership_get_by_user_id(*, org, user_id) -> Membership | None:
    return Membership.objects.for_org(org).select_related("user").filter(user_id=user_id).first()


def break_glass_list(*, org, actor) -> QuerySet:
    """Owners and compliance officers see every elevation; anyone else only their own."""
    from .models import BreakGlass
    from .permissions import has_scope

    qs = BreakGlass.objects.for_org(org).select_related("user").order_by("-id")
    return qs if has_scope(org=org, actor=actor, scope="audit.view") else qs.filter(user_id=actor.pk)
