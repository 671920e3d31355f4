"""Steps the compliance page tests share."""

from django.test import Client


def signed_in(user) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client
