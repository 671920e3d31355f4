"""Idle logoff of one session, at the organisation's policy (Organization.idle_logoff_minutes).

Two ways to notice that a session went idle, one outcome: the next HTTP request of the session
(IdleLogoffMiddleware) or the watch of each of its open websockets (OrgEventsConsumer), which runs on
the server even when the browser sends nothing. Either records `session.idle_logout` once and closes
the session's sockets through the one mechanism logout and member removal use (events.session.ended).
API tokens are not sessions: they are never idle-logged-out (they expire on their own terms).
"""

import time
from importlib import import_module

from django.conf import settings

from apps.core.events import session_ref

SESSION_LAST_SEEN = "last_activity"
SESSION_IDLE_LIMIT = "idle_logoff_minutes"
# Set when a websocket's watch ended the session, so the next request signs out without a second audit row.
SESSION_IDLE_ENDED = "idle_logged_out"


def idle_limit_minutes(session) -> int:
    return session.get(SESSION_IDLE_LIMIT) or settings.DEFAULT_IDLE_LOGOFF_MINUTES


def session_is_idle(session, now: float | None = None) -> bool:
    if session.get(SESSION_IDLE_ENDED):
        return True
    last = session.get(SESSION_LAST_SEEN)
    now = time.time() if now is None else now
    return last is not None and now - last > idle_limit_minutes(session) * 60


def session_idle_logout_record(*, user, session, via: str) -> None:
    """The audit row (in each of the user's organisations) and the closing of the session's sockets."""
    from apps.core.events import disconnect_session_on_commit

    from .services import audit_account_event

    audit_account_event(
        user=user, action="session.idle_logout",
        metadata={"idle_minutes": idle_limit_minutes(session), "via": via, "session": session_ref(session.session_key)},
    )
    disconnect_session_on_commit(session.session_key)


def session_end_if_idle(*, session_key: str, user) -> bool:
    """Called by a websocket's watch: True when the session is over (idle, signed out or expired), so the
    socket closes. An idle session is marked as ended (audited once) and all its sockets are told to close."""
    from django.db import transaction

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key):
        return True
    if store.get(SESSION_IDLE_ENDED):
        return True
    if not session_is_idle(store):
        return False
    with transaction.atomic():
        store[SESSION_IDLE_ENDED] = True
        store.save()
        session_idle_logout_record(user=user, session=store, via="websocket")
    return True
