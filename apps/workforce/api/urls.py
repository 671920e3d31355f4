from django.urls import path

from . import views

urlpatterns = [
    path("tasks/", views.TaskListApi.as_view(), name="task-list"),
    path("tasks/<int:pk>/", views.TaskDetailApi.as_view(), name="task-detail"),
    path("tasks/<int:pk>/members/", views.TaskMembersApi.as_view(), name="task-members"),
    path("tasks/<int:pk>/members/remove/", views.TaskMemberRemoveApi.as_view(), name="task-member-remove"),
    path("work-items/<int:pk>/reassign/", views.WorkItemReassignApi.as_view(), name="work-item-reassign"),
    path("tasks/<int:pk>/items/", views.TaskItemsApi.as_view(), name="task-items"),
    path("tasks/<int:pk>/items/remove/", views.TaskItemsRemoveApi.as_view(), name="task-items-remove"),
    path("tasks/<int:pk>/gold/", views.TaskGoldApi.as_view(), name="task-gold"),
    path("tasks/<int:pk>/next/", views.TaskNextApi.as_view(), name="task-next"),
    path("work-items/<int:pk>/", views.WorkItemDetailApi.as_view(), name="work-item-detail"),
    path("work-items/<int:pk>/comments/", views.WorkItemCommentsApi.as_view(), name="work-item-comments"),
    path("work-items/<int:pk>/submit/", views.WorkItemSubmitApi.as_view(), name="work-item-submit"),
    path("work-items/<int:pk>/review/", views.WorkItemReviewApi.as_view(), name="work-item-review"),
    path("work-items/<int:pk>/skip/", views.WorkItemSkipApi.as_view(), name="work-item-skip"),
    path("work-items/<int:pk>/heartbeat/", views.WorkItemHeartbeatApi.as_view(), name="work-item-heartbeat"),
]
