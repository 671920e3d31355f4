"""Server-side idle logoff, at the organisation's policy (DESIGN.md, issue: accounts)."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

SESSION_LAST_SEEN = "last_activity"


class IdleLogoffMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            limit_minutes = request.session.get("idle_logoff_minutes") or settings.DEFAULT_IDLE_LOGOFF_MINUTES
            now = time.time()
            last = request.session.get(SESSION_LAST_SEEN)
            if last is not None and now - last > limit_minutes * 60:
                from .services import audit_account_event

                audit_account_event(user=user, action="user.idle_logged_out", metadata={"idle_minutes": limit_minutes})
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"type": "about:blank", "title": "Signed out", "status": 401,
                         "detail": "You were signed out after a period of inactivity."},
                        status=401, content_type="application/problem+json",
                    )
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL) if request.method == "GET" \
                    else redirect_to_login("/", settings.LOGIN_URL)
            request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)
