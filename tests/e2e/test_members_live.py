"""The members table follows joins, role changes and removals without a reload (daphne + Redis)."""

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from apps.tenancy.context import TenantState, set_state
from apps.tenancy.roles import Role
from apps.tenancy.services import membership_change_role, membership_create, membership_remove
from tests import processes
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def asgi_server(transactional_db, tmp_path):
    with processes.asgi_server(tmp_path / "daphne.log") as host:
        yield f"http://{host}"


def in_worker_thread(fn, **kwargs):
    """Runs a service outside Playwright's event loop thread, so its on-commit broadcast can be sent."""
    result = {}

    def call():
        set_state(TenantState(bypass=True))
        try:
            result["value"] = fn(**kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(30)
    return result.get("value")


def test_the_members_table_follows_changes_live(asgi_server, new_page, org_a, owner_a):
    page = new_page(asgi_server)
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(owner_a.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/o/acme/members/")
    table = page.locator("#members-table")
    expect(table).to_have_attribute("data-live", "connected")
    newcomer = UserFactory(email="nina@acme.test", full_name='<b>Nina</b> <img src=x onerror="window.pwned=1">')

    membership = in_worker_thread(membership_create, org=org_a, user=newcomer, role=Role.ANNOTATOR)

    row = table.locator(f'tr[data-user-id="{newcomer.pk}"]')
    expect(row.locator(".member-name")).to_have_text('<b>Nina</b> <img src=x onerror="window.pwned=1">')
    expect(row.locator("b, img")).to_have_count(0)
    expect(page.locator("#members-count")).to_have_text("2 members")
    expect(page.locator("#members-live")).to_have_text("nina@acme.test joined as Annotator.")

    in_worker_thread(membership_change_role, org=org_a, actor=owner_a.user, membership=membership, role=Role.REVIEWER)

    expect(row.locator(".member-role")).to_have_text("Reviewer")
    expect(row.get_by_label("New role for nina@acme.test")).to_have_value("reviewer")

    # The controls of a row added live post to that member's own address.
    row.get_by_label("New role for nina@acme.test").select_option("annotator")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status").first).to_have_text("nina@acme.test is now Annotator.")
    expect(table).to_have_attribute("data-live", "connected")

    in_worker_thread(membership_remove, org=org_a, actor=owner_a.user, membership=membership)

    expect(table.locator(f'tr[data-user-id="{newcomer.pk}"]')).to_have_count(0)
    expect(page.locator("#members-count")).to_have_text("1 member")
    assert page.evaluate("() => window.pwned") is None
    assert page.errors == []
