"""Account events from Django's and django-axes' signals, recorded in the audit trail.

The one place these receivers are connected (AccountsConfig.ready)."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from apps.compliance.services import audit_record


def _on_login(sender, request, user, **kwargs):
    from .services import audit_account_event

    audit_account_event(user=user, action="user.logged_in")


def _on_logout(sender, request, user, **kwargs):
    from apps.core.events import disconnect_user_on_commit

    from .services import audit_account_event

    if user is not None and not getattr(request, "idle_logout", False):  # idle: audited and closed in idle.py
        audit_account_event(user=user, action="user.logged_out")
        disconnect_user_on_commit(user.pk)


def _attempted_user(username: str):
    User = get_user_model()
    return User.objects.filter(email__iexact=(username or "").strip()).first() if username else None


def _on_login_failed(sender, credentials, request=None, **kwargs):
    from .services import audit_account_event

    username = (credentials or {}).get("username", "")
    user = _attempted_user(username)
    if user is None:
        audit_record(
            org=None, actor=AnonymousUser(), action="user.login_failed", actor_label=str(username)[:254],
            metadata={"reason": "unknown email"},
        )
    else:
        audit_account_event(user=user, action="user.login_failed", actor=AnonymousUser(), actor_label=user.email)


def _on_locked_out(sender, request, username, ip_address, **kwargs):
    from .services import audit_account_event

    user = _attempted_user(username)
    if user is None:
        audit_record(org=None, actor=AnonymousUser(), action="user.locked_out", actor_label=str(username)[:254])
    else:
        audit_account_event(user=user, action="user.locked_out", actor=AnonymousUser(), actor_label=user.email)


def connect():
    user_logged_in.connect(_on_login, dispatch_uid="accounts.audit_login")
    user_logged_out.connect(_on_logout, dispatch_uid="accounts.audit_logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="accounts.audit_login_failed")
    user_locked_out.connect(_on_locked_out, dispatch_uid="accounts.audit_locked_out")
