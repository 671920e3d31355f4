"""Websocket consumers. A subscription is checked like a request: signed in, a member of the
organisation named in the URL, with the scope the topic needs. Groups are named by organisation id."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.events import group_name, user_group_name

from .selectors import subscription_allowed

CLOSE_UNAUTHORISED = 4403


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
        self.org_id = org_id
        self.groups_joined = [group_name(org_id, topic), user_group_name(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Pages only listen; anything sent is ignored rather than echoed.
        return

    async def live_event(self, message):
        if message["event"] == "session.ended" and message["data"].get("org") in (None, self.org_id):
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        if message["event"] == "session.ended":
            return  # another organisation's access ended; this one's socket stays
        await self.send_json({"event": message["event"], "data": message["data"]})


def _subscription_allowed(user, slug, topic, session):
    from apps.accounts.selectors import session_mfa_verified

    return subscription_allowed(user=user, org_slug=slug, topic=topic,
                                mfa_verified=session_mfa_verified(user=user, session=session))
