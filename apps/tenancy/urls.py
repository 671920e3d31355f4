from django.urls import path

from . import views

app_name = "tenancy"
urlpatterns = [
    path("", views.home, name="root"),
    path("switch/", views.org_switch, name="switch_org"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("o/<slug:org_slug>/", views.org_home, name="org_home"),
    path("o/<slug:org_slug>/members/", views.members, name="members"),
    path("o/<slug:org_slug>/members/<int:membership_id>/role/", views.member_change_role, name="member_role"),
    path("o/<slug:org_slug>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("o/<slug:org_slug>/invitations/", views.invitation_create, name="invitation_create"),
    path(
        "o/<slug:org_slug>/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("o/<slug:org_slug>/settings/", views.org_settings, name="settings"),
    path("o/<slug:org_slug>/break-glass/", views.break_glass, name="break_glass"),
    path("o/<slug:org_slug>/break-glass/<int:break_glass_id>/end/", views.break_glass_end, name="break_glass_end"),
]
