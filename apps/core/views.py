"""Health probes and the error pages (in words, as HTML for pages and problem+json for the API)."""

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .api.errors import problem_response

_ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. Check what you sent and try again."),
    403: ("Not allowed", "Your role in this organisation does not allow this. Ask an owner or admin if you need it."),
    404: ("Not found", "There is nothing here, or you do not have access to it. Check the address or go back."),
    500: ("Something went wrong", "An error on our side stopped this page. It has been logged; try again shortly."),
}


def _error(request, status: int, exception=None):
    title, text = _ERROR_TEXT[status]
    if isinstance(exception, RequestDataTooBig):
        limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024
        text = f"The request body is larger than the {limit_mb:.1f} MB this endpoint accepts."
    if request.path.startswith("/api/"):
        return problem_response(status, text)
    detail = str(exception) if status == 403 and exception and str(exception) else ""
    return render(request, "errors/error.html", {"status": status, "title": title, "text": text, "detail": detail},
                  status=status)


def bad_request(request, exception=None):
    return _error(request, 400, exception)


def permission_denied(request, exception=None):
    return _error(request, 403, exception)


def page_not_found(request, exception=None):
    return _error(request, 404, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return problem_response(500, _ERROR_TEXT[500][1])
    return render(request, "errors/500.html", status=500)


@never_cache
def healthz(request):
    """The process is up and serving requests."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readyz(request):
    """Ready for traffic: the database and the cache/broker answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache.set("readyz", "1", 5)
        checks["cache"] = "ok" if cache.get("readyz") == "1" else "error: no round trip"
    except Exception as exc:
        checks["cache"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)
