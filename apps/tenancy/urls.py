from django.urls import path

from . import views

app_name = "tenancy"
urlpatterns = [
    path("", views.home, name="root"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
