from apps.core.ids import parse_id
from apps.tenancy.access import deny_not_found
from apps.tenancy.permissions import has_scope

from .models import ApiToken


def access_token(*, org, actor, token_id, scope: str = "token.manage_own") -> ApiToken:
    """One API token: your own, or anyone's with token.manage_all. 404 otherwise."""
    pk = parse_id(token_id)
    token = ApiToken.objects.for_org(org).select_related("user").filter(pk=pk).first() if pk else None
    allowed = token is not None and (
        (token.user_id == actor.pk and has_scope(org=org, actor=actor, scope=scope))
        or has_scope(org=org, actor=actor, scope="token.manage_all")
    )
    if not allowed:
        deny_not_found(org=org, actor=actor, target_type="accounts.apitoken", target_id=token_id, scope=scope)
    return token
