"""Steps the browser tests share."""

from playwright.sync_api import expect

from tests.factories import PASSWORD


def sign_in(page, email: str, *, organisation: str = "Acme Vision") -> None:
    """Signs in through the login page with the factories' password and waits for the organisation's home."""
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(organisation)
