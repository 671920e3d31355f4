from django.urls import path

from . import views

urlpatterns = [
    path("tasks/<int:pk>/performance/", views.TaskPerformanceApi.as_view(), name="task-performance"),
    path("tasks/<int:pk>/rates/", views.TaskMemberRateApi.as_view(), name="task-member-rate"),
    path("performance/", views.OrgPerformanceApi.as_view(), name="performance"),
    path("performance/me/", views.OwnPerformanceApi.as_view(), name="performance-me"),
]
