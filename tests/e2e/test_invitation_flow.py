"""An owner of two organisations invites a newcomer, who signs up from the link and lands inside."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from apps.tenancy.models import Membership
from apps.tenancy.roles import Role
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a long and unusual passphrase"


def sign_in_with_the_keyboard(page, email, password):
    page.goto("/accounts/login/")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def test_owner_switches_organisation_invites_and_the_newcomer_signs_up(
    live_server, settings, new_page, org_a, org_b, make_member
):
    settings.SITE_URL = live_server.url
    owner = make_member(org_a, Role.OWNER, email="olivia.owner@example.test", full_name="Olivia Owner")
    MembershipFactory(organization=org_b, user=owner.user, role=Role.OWNER)
    make_member(org_b, Role.ANNOTATOR, email="ann.annotator@example.test", full_name="Ann Annotator")

    # The owner signs in (keyboard only) and lands in her first organisation.
    page = new_page(live_server.url)
    sign_in_with_the_keyboard(page, owner.user.email, PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/o/acme/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Vision")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # She switches to Globex with the organisation switcher.
    page.get_by_label("Organisation").select_option(label="Globex Labs")
    page.get_by_role("button", name="Switch").click()
    expect(page).to_have_url(f"{live_server.url}/o/globex/")
    expect(page.get_by_role("status").first).to_contain_text("You are now working in Globex Labs.")

    # She invites a newcomer from the members page and reads the link shown once.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members of Globex Labs")
    page.get_by_label("Email address").fill("nora.newcomer@example.test")
    page.get_by_label("Role:", exact=True).select_option(label="Reviewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status").first).to_contain_text("Invitation created for nora.newcomer@example.test")
    link = page.get_by_label("Share this link:").input_value()
    assert link.startswith(f"{live_server.url}/invitations/")
    assert link in mail.outbox[-1].body

    # In a fresh browser, the newcomer opens the link, signs up and lands in Globex.
    guest = new_page(live_server.url)
    guest.goto(link)
    expect(guest.get_by_role("heading", level=1)).to_have_text("Join Globex Labs")
    expect(guest.get_by_label("Email address")).to_have_value("nora.newcomer@example.test")
    guest.get_by_label("Full name").fill("Nora Newcomer")
    guest.get_by_label("Password:", exact=True).fill(NEW_PASSWORD)
    guest.get_by_label("Password again:", exact=True).fill(NEW_PASSWORD)
    guest.get_by_role("button", name="Create account and join").click()
    expect(guest).to_have_url(f"{live_server.url}/o/globex/")
    expect(guest.get_by_role("status").first).to_contain_text("Welcome to Globex Labs.")
    expect(guest.get_by_role("heading", level=1)).to_have_text("Globex Labs")
    newcomer = Membership.objects.get(organization=org_b, user__email="nora.newcomer@example.test")
    assert newcomer.role == Role.REVIEWER

    # The link works once.
    again = new_page(live_server.url)
    again.goto(link)
    expect(again.get_by_role("alert")).to_have_text("This invitation has already been used.")

    # The owner's members page shows the newcomer (live_server serves no websockets: reload).
    page.reload()
    row = page.locator(f'#members-table tr[data-user-id="{newcomer.user_id}"]')
    expect(row).to_contain_text("nora.newcomer@example.test")
    expect(row).to_contain_text("Nora Newcomer")
    expect(row.locator(".member-role")).to_have_text("Reviewer")
    expect(page.locator("#members-count")).to_have_text("3 members")
    page.screenshot(path="/tmp/members.png", full_page=True)

    assert page.errors == [] and guest.errors == []
