"""Account pages (/accounts/...) and the organisation's API tokens page (/o/<org_slug>/tokens/).

Included at the site root by dlsaas/urls.py, so both families keep the "accounts" namespace."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/login/code/", views.login_code, name="login_code"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/mfa/", views.mfa, name="mfa"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("o/<slug:org_slug>/tokens/", views.tokens, name="tokens"),
    path("o/<slug:org_slug>/tokens/new/", views.token_create, name="token_create"),
    path("o/<slug:org_slug>/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
