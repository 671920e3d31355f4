"""Websockets against a real ASGI server (daphne) on loopback, with the Redis channel layer."""

import asyncio
import json

import pytest
from django.conf import settings
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.tenancy.roles import Role
from apps.tenancy.services import membership_change_role, membership_create
from tests import processes
from tests.factories import UserFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield host, None


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def ws_connect(host, path, cookie="", origin=None):
    headers = {"Cookie": cookie} if cookie else {}
    return connect(f"ws://{host}{path}", additional_headers=headers, origin=origin or f"http://{host}",
                   open_timeout=10)


async def as_system(fn, **kwargs):
    """Runs a service in a worker thread, which has its own connection: scope it like a job would."""
    from django.db import connection

    from apps.tenancy.context import TenantState, set_state

    def call():
        set_state(TenantState(bypass=True))
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


async def next_event(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_the_members_feed_tells_a_manager_when_someone_joins_and_changes_role(server, org_a, owner_a):
    host, _ = server
    cookie = session_cookie(owner_a.user)
    newcomer = UserFactory(email="newcomer@acme.test")

    async def scenario():
        async with ws_connect(host, "/ws/o/acme/members/", cookie) as ws:
            membership = await as_system(membership_create, org=org_a, user=newcomer, role=Role.ANNOTATOR)
            joined = await next_event(ws)
            await as_system(
                membership_change_role, org=org_a, actor=owner_a.user, membership=membership, role=Role.REVIEWER
            )
            changed = await next_event(ws)
            return joined, changed

    joined, changed = asyncio.run(scenario())

    assert joined["event"] == "member.joined" and joined["data"]["email"] == "newcomer@acme.test"
    assert changed["event"] == "member.role_changed" and changed["data"]["role"] == "reviewer"


def test_another_tenants_member_cannot_subscribe(server, org_a, owner_a, org_b, owner_b):
    host, _ = server
    outsider = session_cookie(owner_b.user)

    async def scenario():
        async with ws_connect(host, "/ws/o/acme/members/", outsider) as ws:
            await ws.recv()

    with pytest.raises((InvalidStatus, ConnectionClosed)):
        asyncio.run(scenario())


def test_anonymous_and_foreign_origin_sockets_are_refused(server, org_a, owner_a):
    host, _ = server
    cookie = session_cookie(owner_a.user)

    async def anonymous():
        async with ws_connect(host, "/ws/o/acme/members/") as ws:
            await ws.recv()

    async def foreign_origin():
        async with ws_connect(host, "/ws/o/acme/members/", cookie, origin="http://evil.example") as ws:
            await ws.recv()

    with pytest.raises((InvalidStatus, ConnectionClosed)):
        asyncio.run(anonymous())
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        asyncio.run(foreign_origin())


def test_a_removed_members_socket_is_closed(server, org_a, owner_a, make_member):
    host, _ = server
    manager = make_member(org_a, Role.MANAGER)
    cookie = session_cookie(manager.user)

    async def scenario():
        async with ws_connect(host, "/ws/o/acme/members/", cookie) as ws:
            from apps.tenancy.services import membership_remove

            await as_system(membership_remove, org=org_a, actor=owner_a.user, membership=manager)
            while True:  # the removal event may arrive first; then the socket closes
                await asyncio.wait_for(ws.recv(), 10)

    with pytest.raises(ConnectionClosed) as closed:
        asyncio.run(scenario())
    assert closed.value.rcvd.code == 4403


def test_the_health_endpoints_answer_on_the_asgi_server(server):
    import urllib.request

    host, _ = server
    with urllib.request.urlopen(f"http://{host}/healthz", timeout=10) as response:  # loopback only
        assert response.read() == b"ok"


def test_import_progress_reaches_the_datasets_pages(server, org_a, owner_a):
    from apps.datasets.intake import urls_import_start
    from apps.datasets.services import dataset_create

    host, _ = server
    cookie = session_cookie(owner_a.user)
    dataset = dataset_create(org=org_a, actor=owner_a.user, name="Live")

    async def scenario():
        async with ws_connect(host, "/ws/o/acme/imports/", cookie) as ws:
            await as_system(urls_import_start, org=org_a, actor=owner_a.user, dataset=dataset,
                            urls=["http://10.0.0.1/a.jpg"])  # refused before any traffic, if ever fetched
            return await next_event(ws)

    event = asyncio.run(scenario())

    assert event["event"] == "import.progress"
    assert (event["data"]["dataset"], event["data"]["total"], event["data"]["status"]) == (dataset.pk, 1, "running")
