"""`Authorization: Bearer dls_<key id>_<secret>`: a token of one user in one organisation."""

import hmac

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apps.core import request_context
from apps.tenancy.context import system_context
from apps.tenancy.models import hash_secret

from .models import TOKEN_PREFIX, ApiToken

LAST_USED_RESOLUTION_SECONDS = 60


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        prefix, _, rest = raw.partition("_")
        key_id, _, _secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not key_id:
            raise exceptions.AuthenticationFailed("The token is not valid.")
        # Looked up before the organisation is known: the one place tokens are read across tenants.
        with system_context():
            token = ApiToken.objects.select_related("user", "organization").filter(key_id=key_id).first()
        if token is None or not hmac.compare_digest(token.key_hash, hash_secret(raw)):
            raise exceptions.AuthenticationFailed("The token is not valid.")
        if token.revoked_at:
            raise exceptions.AuthenticationFailed("The token was revoked.")
        if token.expires_at and token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("The token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is deactivated.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            with system_context():
                ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        info = request_context.current()
        if info is not None:
            info.token_id = token.pk
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
