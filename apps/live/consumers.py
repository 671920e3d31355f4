"""Websocket consumers. A subscription is checked like a request: signed in, a member of the
organisation named in the URL, with the scope the topic needs. Groups are named by organisation id."""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.core.events import group_name, session_group_name, user_group_name

from .selectors import subscription_allowed

CLOSE_UNAUTHORISED = 4403
CLOSE_SIGNED_OUT = 4401  # the session ended (idle logoff) while the socket was open


class OrgEventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        slug = self.scope["url_route"]["kwargs"]["org_slug"]
        topic = self.scope["url_route"]["kwargs"]["topic"]
        org_id = None
        if user is not None and user.is_authenticated:
            org_id = await database_sync_to_async(_subscription_allowed)(user, slug, topic, self.scope.get("session"))
        if org_id is None:
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key and await database_sync_to_async(_session_over)(session_key, user):
            await self.close(code=CLOSE_SIGNED_OUT)
            return
        self.org_id = org_id
        self.groups_joined = [group_name(org_id, topic), user_group_name(user.pk)]
        if session_key:
            self.groups_joined.append(session_group_name(session_key))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if session_key:
            self.idle_watch = asyncio.ensure_future(self.watch_idle(session_key, user))

    async def disconnect(self, code):
        watch = getattr(self, "idle_watch", None)
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def watch_idle(self, session_key, user):
        """Idle logoff even when the page sends nothing: a listening page is not activity (accounts/idle.py)."""
        while True:
            await asyncio.sleep(settings.LIVE_IDLE_CHECK_SECONDS)
            if await database_sync_to_async(_session_over)(session_key, user):
                await self.close(code=CLOSE_SIGNED_OUT)
                return

    async def receive_json(self, content, **kwargs):
        # Pages only listen; anything sent is ignored rather than echoed.
        return

    async def live_event(self, message):
        if message["event"] == "session.ended" and message["data"].get("org") in (None, self.org_id):
            # logout, idle logoff or removal from this organisation
            idle = message["data"].get("reason") == "idle"
            await self.close(code=CLOSE_SIGNED_OUT if idle else CLOSE_UNAUTHORISED)
            return
        if message["event"] == "session.ended":
            return  # another organisation's access ended; this one's socket stays
        await self.send_json({"event": message["event"], "data": message["data"]})


def _subscription_allowed(user, slug, topic, session):
    from apps.accounts.selectors import session_mfa_verified

    return subscription_allowed(user=user, org_slug=slug, topic=topic,
                                mfa_verified=session_mfa_verified(user=user, session=session))


def _session_over(session_key, user) -> bool:
    from apps.accounts.idle import session_end_if_idle

    return session_end_if_idle(session_key=session_key, user=user)
