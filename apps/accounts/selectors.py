from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from apps.tenancy.permissions import has_scope

from .models import ApiToken


def token_list(*, org, actor) -> QuerySet[ApiToken]:
    """Your own tokens; every member's with token.manage_all."""
    qs = ApiToken.objects.for_org(org).select_related("user").order_by("-created_at", "-id")
    if not has_scope(org=org, actor=actor, scope="token.manage_all"):
        qs = qs.filter(user_id=actor.pk)
    return qs


def user_exists_with_email(email: str) -> bool:
    """Users are global rows: whether this address already has an account, in any organisation."""
    return get_user_model().objects.filter(email__iexact=(email or "").strip()).exists()
