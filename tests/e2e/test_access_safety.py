"""Issue 8 in the browser: a dataset states whom its items are about, and the processing register says so; a
session left idle is signed out with the reason on the login page."""

import time
from importlib import import_module

import pytest
from django.conf import settings
from playwright.sync_api import expect

from apps.tenancy.roles import Role
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e


def test_an_owner_states_the_categories_of_data_subjects_and_the_register_shows_them(live_server, new_page, org_a,
                                                                                      make_member):
    owner = make_member(org_a, Role.OWNER, email="olga.owner@example.test")
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)

    page.goto("/o/acme/datasets/")
    page.get_by_label("Name").fill("Ward scans")
    page.get_by_label("Classification").select_option(label="Health data")
    page.get_by_label("Patients").check()
    page.get_by_label("Children").check()
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add items to Ward scans")

    page.goto("/o/acme/audit/processing-register/")
    row = page.get_by_role("row").filter(has_text="Ward scans")
    expect(row).to_contain_text("Patients, Children")


def test_an_idle_session_lands_on_the_login_page_saying_why(live_server, new_page, org_a, make_member):
    owner = make_member(org_a, Role.OWNER, email="olga.owner@example.test")
    page = new_page(live_server.url)
    sign_in(page, owner.user.email)
    page.goto("/o/acme/datasets/")
    key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    store["last_activity"] = time.time() - (store.get("idle_logoff_minutes", 60) + 1) * 60
    store.save()

    page.reload()

    expect(page.get_by_label("Email address")).to_be_visible()
    expect(page.get_by_text("signed out after 60 minutes of inactivity")).to_be_visible()
