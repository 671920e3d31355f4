"""Who is asking and from where, for the duration of one request, websocket or job.

Services read it (the audit trail records IP, user agent and request id) without every caller
having to thread the request through.
"""

import contextvars
import uuid
from dataclasses import dataclass

from django.conf import settings


@dataclass
class RequestInfo:
    request_id: str
    ip: str | None = None
    user_agent: str = ""
    # Set by the bearer-token authentication, so the audit trail names the token that acted.
    token_id: int | None = None


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("dlsaas_request", default=None)


def current() -> RequestInfo | None:
    return _current.get()


def activate(info: RequestInfo | None) -> contextvars.Token:
    return _current.set(info)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def client_ip(meta: dict) -> str | None:
    """The client's address; X-Forwarded-For is believed only for the configured proxy hops."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies:
        forwarded = [p.strip() for p in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return meta.get("REMOTE_ADDR") or None


def new_request_id(candidate: str | None = None) -> str:
    if candidate and len(candidate) <= 64 and candidate.replace("-", "").isalnum():
        return candidate
    return uuid.uuid4().hex


# Functions (org_id, actor, metadata) -> metadata that add context to every audit event (break-glass tagging);
# registered by the apps that own that context, so the audit trail does not import them.
_audit_metadata_hooks: list = []


def register_audit_metadata_hook(hook) -> None:
    if hook not in _audit_metadata_hooks:
        _audit_metadata_hooks.append(hook)


def audit_metadata(*, org_id, actor, metadata: dict | None) -> dict | None:
    for hook in _audit_metadata_hooks:
        metadata = hook(org_id=org_id, actor=actor, metadata=metadata)
    return metadata
