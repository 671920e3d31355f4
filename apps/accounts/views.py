"""Pages of the accounts app: sign-in (with the TOTP step), sign-out, passwords, MFA, API tokens.

Login, logout and failed logins are audited by signals (signals.py); these views only call
django.contrib.auth's login()/logout().
"""

import time
from base64 import b32encode
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import load_backend, login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.forms import add_service_errors
from apps.core.redirects import safe_next
from apps.tenancy.permissions import has_scope, require_scope

from . import services
from .access import access_token
from .forms import LoginForm, MfaDisableForm, OtpCodeForm, TokenCreateForm
from .selectors import token_list

# A password that was right, waiting for its TOTP code: {"user_id", "backend", "next", "started", "attempts"}.
SESSION_PENDING_LOGIN = "pending_mfa_login"
SESSION_SETUP_DEVICE = "mfa_setup_device_id"
SESSION_NEW_TOKEN = "new_api_token"
MAX_CODE_ATTEMPTS = 5
PENDING_LOGIN_SECONDS = 5 * 60


def _next_of(request) -> str | None:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))


# --- Sign in -------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = _next_of(request)
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        user = form.get_user()
        if services.mfa_device_of(user) is not None:
            # Not signed in yet: the password was right, the second factor is still to come.
            request.session[SESSION_PENDING_LOGIN] = {
                "user_id": user.pk, "backend": user.backend, "next": next_url,
                "started": time.time(), "attempts": 0,
            }
            return redirect("accounts:login_code")
        login(request, user)
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    status = 400 if form.is_bound else 200
    return render(request, "accounts/login.html", {"form": form, "next": next_url}, status=status)


def _pending_login(request):
    """The user whose password was accepted in this session a moment ago, or None."""
    pending = request.session.get(SESSION_PENDING_LOGIN)
    if not pending or time.time() - pending.get("started", 0) > PENDING_LOGIN_SECONDS:
        return None, None
    if pending.get("backend") not in settings.AUTHENTICATION_BACKENDS:
        return None, None
    user = load_backend(pending["backend"]).get_user(pending["user_id"])
    return (pending, user) if user is not None and user.is_active else (None, None)


def _restart_login(request, message: str):
    request.session.pop(SESSION_PENDING_LOGIN, None)
    messages.error(request, message)
    return redirect("accounts:login")


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    pending, user = _pending_login(request)
    device = services.mfa_device_of(user) if user is not None else None
    if device is None:
        return _restart_login(request, "Your sign-in has expired. Enter your email address and password again.")
    form = OtpCodeForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            request.session.pop(SESSION_PENDING_LOGIN, None)
            login(request, user, backend=pending["backend"])
            otp_login(request, device)
            return redirect(pending["next"] or resolve_url(settings.LOGIN_REDIRECT_URL))
        pending["attempts"] += 1
        services.audit_account_event(
            user=user, action="user.mfa_failed", actor=AnonymousUser(), actor_label=user.email,
            metadata={"attempt": pending["attempts"]},
        )
        if pending["attempts"] >= MAX_CODE_ATTEMPTS:
            return _restart_login(request, "Too many wrong codes. Sign in again with your email address and password.")
        request.session[SESSION_PENDING_LOGIN] = pending
        left = MAX_CODE_ATTEMPTS - pending["attempts"]
        form.add_error("code", f"That code is not valid. You have {left} more {'try' if left == 1 else 'tries'}.")
    return render(request, "accounts/login_code.html", {"form": form}, status=400 if form.is_bound else 200)


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect(_next_of(request) or reverse("accounts:login"))


def lockout_response(request, original_response=None, credentials=None, *args, **kwargs):
    """django-axes calls this when an account is locked: a page in words, status 429."""
    minutes = round(float(settings.AXES_COOLOFF_TIME) * 60) if settings.AXES_COOLOFF_TIME else None
    return render(request, "accounts/lockout.html", {"minutes": minutes}, status=429)


# --- Passwords -----------------------------------------------------------------------------


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.audit_account_event(user=self.request.user, action="user.password_changed")
        messages.success(self.request, "Your password has been changed.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Links are built on the configured public address, never on the request's Host header.
        self.extra_email_context = {"site_url": settings.SITE_URL.rstrip("/")}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- Two-factor authentication -------------------------------------------------------------


def _setup_device(request) -> TOTPDevice | None:
    """The unconfirmed TOTP device this session started setting up, if it still exists."""
    device_id = request.session.get(SESSION_SETUP_DEVICE)
    if device_id is None:
        return None
    return next(
        (d for d in devices_for_user(request.user, confirmed=False) if isinstance(d, TOTPDevice) and d.pk == device_id),
        None,
    )


def _qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    # Generated vector paths only: no user-supplied text reaches the markup.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308


def _grouped_secret(device: TOTPDevice) -> str:
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
@sensitive_post_parameters("password", "code")
@never_cache
@require_http_methods(["GET", "POST"])
def mfa(request):
    user = request.user
    device = services.mfa_device_of(user)
    next_url = _next_of(request)
    self_url = reverse("accounts:mfa") + (f"?{urlencode({'next': next_url})}" if next_url else "")
    action = request.POST.get("action") if request.method == "POST" else None
    code_form, disable_form, status = OtpCodeForm(), MfaDisableForm(), 200

    if action == "begin" and device is None:
        request.session[SESSION_SETUP_DEVICE] = services.mfa_begin_setup(user=user).pk
        return redirect(self_url)
    if action == "confirm":
        setup = _setup_device(request)
        code_form = OtpCodeForm(request.POST)
        if setup is None:
            messages.error(request, "That set-up was replaced or has expired. Start again.")
            return redirect(self_url)
        if code_form.is_valid():
            try:
                services.mfa_confirm(user=user, device=setup, code=code_form.cleaned_data["code"])
            except ValidationError as exc:
                add_service_errors(code_form, exc)
            except PermissionDenied as exc:
                code_form.add_error(None, str(exc))
            else:
                request.session.pop(SESSION_SETUP_DEVICE, None)
                otp_login(request, setup)
                messages.success(request, "Two-factor authentication is on. Signing in now asks for a code.")
                return redirect(next_url or reverse("accounts:mfa"))
        status = 400
    if action == "verify" and device is not None:
        code_form = OtpCodeForm(request.POST)
        if code_form.is_valid() and device.verify_token(code_form.cleaned_data["code"]):
            otp_login(request, device)
            messages.success(request, "This session is verified.")
            return redirect(next_url or reverse("home"))
        if code_form.is_valid():
            code_form.add_error("code", "That code is not valid. Check your phone's clock and try the current code.")
        status = 400
    if action == "disable" and device is not None:
        disable_form = MfaDisableForm(request.POST)
        if disable_form.is_valid():
            try:
                services.mfa_disable(user=user, password=disable_form.cleaned_data["password"])
            except ValidationError as exc:
                add_service_errors(disable_form, exc)
            else:
                messages.success(request, "Two-factor authentication is off.")
                return redirect("accounts:mfa")
        status = 400

    setup = _setup_device(request) if device is None else None
    context = {
        "device": device,
        "verified": user.is_verified(),
        "setup": setup,
        "qr_svg": _qr_svg(setup) if setup else None,
        "secret": _grouped_secret(setup) if setup else None,
        "code_form": code_form,
        "disable_form": disable_form,
        "next": next_url,
    }
    return render(request, "accounts/mfa.html", context, status=status)


# --- API tokens ----------------------------------------------------------------------------


def _render_tokens(request, *, form=None, status=200):
    org, actor = request.org, request.user
    require_scope(org=org, actor=actor, scope="token.manage_own")
    context = {
        "tokens": token_list(org=org, actor=actor),
        "show_owner": has_scope(org=org, actor=actor, scope="token.manage_all"),
        "form": form or TokenCreateForm(),
        "new_token": request.session.pop(SESSION_NEW_TOKEN, None),
    }
    return render(request, "accounts/tokens.html", context, status=status)


def tokens(request, org_slug):
    return _render_tokens(request)


@require_POST
def token_create(request, org_slug):
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            token, raw = services.token_create(
                org=request.org, actor=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            request.session[SESSION_NEW_TOKEN] = {"name": token.name, "raw": raw}
            messages.success(request, f"Token “{token.name}” created. Copy it now: it is shown only once.")
            return redirect("accounts:tokens", org_slug=request.org.slug)
    return _render_tokens(request, form=form, status=400)


@require_POST
def token_revoke(request, org_slug, token_id):
    token = access_token(org=request.org, actor=request.user, token_id=token_id)
    services.token_revoke(org=request.org, actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” was revoked; it no longer works.")
    return redirect("accounts:tokens", org_slug=request.org.slug)

