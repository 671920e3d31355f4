"""Live events: the one way the app tells open pages that something changed.

Groups are named by organisation (`org.<id>.<topic>`); a message is sent only after the transaction
that made the change commits, so nobody sees a change that was rolled back.
"""

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.tenancy.ids import org_id_of

logger = logging.getLogger(__name__)


def group_name(org, topic: str) -> str:
    return f"org.{org_id_of(org)}.{topic}"


def user_group_name(user_id: int) -> str:
    return f"user.{user_id}"


def session_ref(session_key: str | None) -> str:
    """A stable name for a session that does not reveal its key (websocket group, audit metadata)."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:24]


def session_group_name(session_key: str) -> str:
    """The group of one signed-in session's websockets."""
    return f"session.{session_ref(session_key)}"


def send_now(group: str, event: str, data: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event, "data": data})
    except Exception:  # a live update is a courtesy; the page still shows the truth on reload
        logger.warning("Could not broadcast %s to %s", event, group, exc_info=True)


def broadcast_on_commit(*, org, topic: str, event: str, data: dict) -> None:
    group = group_name(org, topic)
    transaction.on_commit(lambda: send_now(group, event, data))


def disconnect_user_on_commit(user_id: int, org=None) -> None:
    """Closes the user's websockets (all of them on logout; those of one organisation on removal from it):
    sockets never outlive access."""
    data = {"org": org_id_of(org)} if org is not None else {}
    transaction.on_commit(lambda: send_now(user_group_name(user_id), "session.ended", data))


def disconnect_session_on_commit(session_key: str) -> None:
    """Closes the websockets of one session (idle logoff), leaving the user's other sessions open."""
    group = session_group_name(session_key)
    transaction.on_commit(lambda: send_now(group, "session.ended", {"reason": "idle"}))
