from django.urls import path

from . import views

urlpatterns = [
    path("organization/", views.OrganizationCurrentApi.as_view(), name="organization-current"),
    path("members/", views.MemberListApi.as_view(), name="member-list"),
    path("members/<int:pk>/", views.MemberDetailApi.as_view(), name="member-detail"),
    path("invitations/", views.InvitationListApi.as_view(), name="invitation-list"),
    path("invitations/<int:pk>/", views.InvitationDetailApi.as_view(), name="invitation-detail"),
    path("break-glass/", views.BreakGlassListApi.as_view(), name="break-glass-list"),
    path("break-glass/<int:pk>/", views.BreakGlassDetailApi.as_view(), name="break-glass-detail"),
    path("break-glass/<int:pk>/end/", views.BreakGlassEndApi.as_view(), name="break-glass-end"),
]
