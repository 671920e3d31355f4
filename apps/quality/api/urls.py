from django.urls import path

from . import views

urlpatterns = [
    path("tasks/<int:pk>/quality/", views.TaskQualityApi.as_view(), name="task-quality"),
    path("tasks/<int:pk>/quality/settings/", views.TaskQualityPolicyApi.as_view(), name="task-quality-settings"),
    path("quality/me/", views.OwnQualityApi.as_view(), name="quality-me"),
]
