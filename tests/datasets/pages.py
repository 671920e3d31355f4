"""Steps the dataset page tests share."""

from django.test import Client

HOSTILE = "<img src=x onerror=alert(1)>"  # a name or value that must reach the page as text, never as markup


def signed_in(membership) -> Client:
    """A test client signed in as the membership's user."""
    client = Client()
    client.force_login(membership.user)
    return client
