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


def session_mfa_verified(*, user, session) -> bool:
    """Whether this session (e.g. a websocket's) was signed in with the user's confirmed MFA device (django-otp)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id or user is None or not user.is_authenticated:
        return False
    device = Device.from_persistent_id(persistent_id, for_verify=False)
    return device is not None and device.user_id == user.pk and device.confirmed
