"""`Authorization: Bearer dls_<key id>_<secret>`: a token of one user in one organisation."""

import hmac
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apps.core import request_context
from apps.tenancy.context import system_context
from apps.tenancy.models import Organization, hash_secret
from apps.tenancy.permissions import remember_role

from .models import TOKEN_PREFIX, ApiToken

LAST_USED_RESOLUTION_SECONDS = 60


def _elevation_column(field: str) -> str:
    return (f"(SELECT b.{field} FROM tenancy_breakglass b WHERE b.organization_id = t.organization_id"
            " AND b.user_id = t.user_id AND b.ended_at IS NULL AND b.expires_at > now()"
            " ORDER BY b.expires_at DESC LIMIT 1)")


@cache
def _token_query() -> tuple[str, list]:
    """The SQL of token_by_key_id and, per model it reads, (model, its fields, their converters)."""
    parts = [(ApiToken, "t"), (get_user_model(), "u"), (Organization, "o")]
    quote = connection.ops.quote_name
    columns, plan = [], []
    for model, alias in parts:
        fields = model._meta.concrete_fields
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        converters = [(i, f.cached_col, connection.ops.get_db_converters(f.cached_col)
                       + f.cached_col.get_db_converters(connection)) for i, f in enumerate(fields)]
        plan.append((model, [f.attname for f in fields], [c for c in converters if c[2]]))
    user_table, org_table = (quote(m._meta.db_table) for m, _alias in parts[1:])
    sql = (f"SELECT {', '.join(columns)},"
           " (SELECT m.role FROM tenancy_membership m WHERE m.organization_id = t.organization_id"
           "  AND m.user_id = t.user_id ORDER BY m.id LIMIT 1),"
           # MFA enforcement and break-glass need these on every request: read in the same query.
           " EXISTS (SELECT 1 FROM otp_totp_totpdevice d WHERE d.user_id = t.user_id AND d.confirmed),"
           f" {_elevation_column('id')}, {_elevation_column('role')}, {_elevation_column('expires_at')}"
           f" FROM {quote(ApiToken._meta.db_table)} t JOIN {user_table} u ON u.id = t.user_id"
           f" JOIN {org_table} o ON o.id = t.organization_id WHERE t.key_id = %s")
    return sql, plan


def token_by_key_id(key_id: str) -> ApiToken | None:
    """The token with this key id, its user and organisation loaded, and `member_role`: the user's role in that
    organisation (None once they are no longer a member), `user_has_mfa` (a confirmed device) and `elevation` (the
    active break-glass as (id, role, expires_at), or None). One query, written out rather than built by the ORM: it
    runs on every API request, and select_related over three models takes longer to build than to answer."""
    sql, plan = _token_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for model, attnames, converters in plan:
        values = list(row[start:start + len(attnames)])
        start += len(attnames)
        for i, col, functions in converters:
            for convert in functions:
                values[i] = convert(values[i], col, connection)
        objects.append(model.from_db(connection.alias, attnames, values))
    token, user, org = objects
    ApiToken.user.field.set_cached_value(token, user)
    ApiToken.organization.field.set_cached_value(token, org)
    token.member_role, token.user_has_mfa = row[start], bool(row[start + 1])
    token.elevation = tuple(row[start + 2:start + 5]) if row[start + 2] is not None else None
    return token


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
        # Looked up before the organisation is known: the one place tokens are read across tenants. The user's
        # role in the token's organisation comes in the same query (scoped explicitly to that organisation and user).
        with system_context():
            token = token_by_key_id(key_id)
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
        remember_role(org=token.organization_id, actor=token.user, role=token.member_role, elevation=token.elevation)
        info = request_context.current()
        if info is not None:
            info.token_id = token.pk
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
