"""Errors as application/problem+json (RFC 9457) with a field-level `errors` map."""

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from apps.core.errors import ConflictError, GoneError

PROBLEM_CONTENT_TYPE = "application/problem+json"
logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The resource changed since you read it."
    default_code = "conflict"

    def __init__(self, detail=None, conflicts=None):
        super().__init__(detail)
        self.conflicts = conflicts or []


class Gone(exceptions.APIException):
    status_code = 410
    default_detail = "This was withdrawn."
    default_code = "gone"


def _as_drf(exc):
    if isinstance(exc, GoneError):
        return Gone(exc.message)
    if isinstance(exc, ConflictError):
        return Conflict(exc.message, exc.conflicts)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    return exc


def _flatten(detail, prefix="") -> dict[str, list[str]]:
    """{"a": {"b": ["x"]}} -> {"a.b": ["x"]}; list positions become indexes."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and all(not isinstance(v, (dict, list)) for v in detail):
        return {prefix or "non_field_errors": [str(v) for v in detail]}
    if isinstance(detail, list):
        out = {}
        for index, value in enumerate(detail):
            if value:
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def problem(status: int, detail: str, errors: dict | None = None, title: str | None = None) -> dict:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_exception_handler(exc, context):
    exc = _as_drf(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        fields = ", ".join(sorted(errors))
        response.data = problem(response.status_code, f"Some fields are not valid: {fields}.", errors)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = problem(response.status_code, str(detail))
        if isinstance(exc, Conflict) and exc.conflicts:
            response.data["conflicts"] = exc.conflicts
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(status: int, detail: str) -> JsonResponse:
    return JsonResponse(problem(status, detail), status=status, content_type=PROBLEM_CONTENT_TYPE)
