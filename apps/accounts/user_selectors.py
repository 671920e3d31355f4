"""Reads of user accounts (global rows, no organisation). Candidates to fold into selectors.py."""

from django.contrib.auth import get_user_model


def user_exists_with_email(email: str) -> bool:
    return get_user_model().objects.filter(email__iexact=(email or "").strip()).exists()
