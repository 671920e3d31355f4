"""Idle logoff reaches open websockets: a page that only listens is not activity, and the server closes its
socket when the session goes idle, without waiting for the browser's next request (apps/accounts/idle.py)."""

import asyncio
import time
from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.compliance.models import AuditEvent
from apps.tenancy.roles import Role
from apps.tenancy.services import membership_create
from tests import processes
from tests.factories import UserFactory
from tests.live.test_members_live import as_system, next_event, ws_connect

pytestmark = pytest.mark.slow


@pytest.fixture
def server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log", DLSAAS_LIVE_IDLE_CHECK_SECONDS="0.5") as host:
        yield host


def signed_in(user, org):
    client = Client()
    client.force_login(user)
    session = client.session
    session["current_org_id"] = org.pk
    session["idle_logoff_minutes"] = 15
    session["last_activity"] = time.time()
    session.save()
    return client, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def last_seen(client, seconds_ago: float) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore(client.session.session_key)
    store["last_activity"] = time.time() - seconds_ago
    store.save()


def idle_logouts(org):
    return list(AuditEvent.objects.filter(organization=org, action="session.idle_logout").values_list("metadata",
                                                                                                   flat=True))


def test_an_idle_sessions_socket_is_closed_by_the_server_and_audited(server, org_a, owner_a):
    client, cookie = signed_in(owner_a.user, org_a)

    async def scenario():
        async with ws_connect(server, "/ws/o/acme/members/", cookie) as ws:
            await asyncio.to_thread(last_seen, client, 16 * 60)  # the user walked away; the page stays open
            while True:
                await asyncio.wait_for(ws.recv(), 10)

    with pytest.raises(ConnectionClosed) as closed:
        asyncio.run(scenario())

    assert closed.value.rcvd.code == 4401
    assert [m["via"] for m in idle_logouts(org_a)] == ["websocket"]
    response = client.get("/api/v1/organization/")
    assert response.status_code == 401 and response.json()["code"] == "session_idle_timeout"
    assert len(idle_logouts(org_a)) == 1  # recorded once, by whichever noticed first


def test_an_active_sessions_socket_stays_open(server, org_a, owner_a):
    _client, cookie = signed_in(owner_a.user, org_a)
    newcomer = UserFactory(email="newcomer@acme.test")

    async def scenario():
        async with ws_connect(server, "/ws/o/acme/members/", cookie) as ws:
            await asyncio.sleep(2)  # several watches pass
            await as_system(membership_create, org=org_a, user=newcomer, role=Role.ANNOTATOR)
            return await next_event(ws)

    assert asyncio.run(scenario())["event"] == "member.joined"
    assert idle_logouts(org_a) == []


def test_only_the_idle_sessions_sockets_close_and_an_idle_session_cannot_open_a_new_one(server, org_a, owner_a):
    idle_client, idle_cookie = signed_in(owner_a.user, org_a)
    _other_client, other_cookie = signed_in(owner_a.user, org_a)  # the same person on another device, active
    newcomer = UserFactory(email="newcomer@acme.test")

    async def scenario():
        async with ws_connect(server, "/ws/o/acme/members/", other_cookie) as other:
            async with ws_connect(server, "/ws/o/acme/members/", idle_cookie) as idle:
                await asyncio.to_thread(last_seen, idle_client, 16 * 60)
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(idle.recv(), 10)
            await as_system(membership_create, org=org_a, user=newcomer, role=Role.ANNOTATOR)
            still_open = await next_event(other)
            with pytest.raises((InvalidStatus, ConnectionClosed)):  # refused at the handshake: the session is over
                async with ws_connect(server, "/ws/o/acme/members/", idle_cookie) as again:
                    await asyncio.wait_for(again.recv(), 10)
            return closed.value.rcvd.code, still_open

    code, still_open = asyncio.run(scenario())

    assert code == 4401
    assert still_open["event"] == "member.joined"
