from django.urls import path

from . import views

app_name = "performance"
urlpatterns = [
    path("o/<slug:org_slug>/tasks/<int:task_id>/performance/", views.task_dashboard, name="dashboard"),
    path("o/<slug:org_slug>/performance/me/", views.scorecard, name="scorecard"),
]
