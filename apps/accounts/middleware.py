"""Server-side idle logoff, at the organisation's policy (DESIGN.md, issue: accounts; see idle.py)."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from .idle import SESSION_IDLE_ENDED, SESSION_LAST_SEEN, idle_limit_minutes, session_idle_logout_record, session_is_idle

IDLE_MESSAGE = "You were signed out after {minutes} minutes of inactivity. Sign in again to continue."


class IdleLogoffMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            session = request.session
            if session_is_idle(session):
                return self.sign_out(request, user, session)
            session[SESSION_LAST_SEEN] = time.time()
        return self.get_response(request)

    def sign_out(self, request, user, session):
        minutes = idle_limit_minutes(session)
        if not session.get(SESSION_IDLE_ENDED):  # a websocket's watch has already recorded it otherwise
            session_idle_logout_record(user=user, session=session, via="request")
        request.idle_logout = True  # accounts.signals: no second "user.logged_out" row
        logout(request)
        detail = IDLE_MESSAGE.format(minutes=minutes)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"type": "about:blank", "title": "Signed out", "status": 401, "code": "session_idle_timeout",
                 "detail": detail},
                status=401, content_type="application/problem+json",
            )
        messages.info(request, detail)
        return redirect_to_login(request.get_full_path() if request.method == "GET" else "/", settings.LOGIN_URL)
