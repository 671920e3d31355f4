"""Helpers shared by the server-rendered forms of every app."""

from django import forms
from django.core.exceptions import ValidationError


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Puts a service's ValidationError next to the fields it names (or above the form)."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)


def error_sentences(exc: ValidationError) -> list[str]:
    """A service's ValidationError as sentences that keep the path each names (`filter.size.$gt: ...`,
    `labels.2.hotkey: ...`), for pages that show errors above a form rather than beside a field."""
    if hasattr(exc, "error_dict"):
        return [f"{path}: {message}" for path, errors in exc.message_dict.items() for message in errors]
    return list(exc.messages)
