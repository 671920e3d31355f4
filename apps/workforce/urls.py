from django.urls import path

from . import views

app_name = "workforce"
task = "o/<slug:org_slug>/tasks/<int:task_id>/"
urlpatterns = [
    path("o/<slug:org_slug>/work/", views.my_work, name="my_work"),
    path("o/<slug:org_slug>/tasks/", views.task_list, name="list"),
    path("o/<slug:org_slug>/tasks/new/", views.task_new, name="new"),
    path(task, views.task_board, name="board"),
    path(f"{task}board/live/", views.board_live, name="board_live"),
    path(f"{task}status/", views.task_status, name="status"),
    path(f"{task}members/add/", views.member_add, name="member_add"),
    path(f"{task}members/<int:user_id>/remove/", views.member_remove, name="member_remove"),
    path(f"{task}units/<int:unit_id>/reassign/", views.unit_reassign, name="unit_reassign"),
    path(f"{task}gold/", views.gold_add, name="gold_add"),
    path(f"{task}work-log.csv", views.task_worklog, name="worklog"),
    path(f"{task}work/", views.queue_work, name="work"),
    path(f"{task}review/", views.queue_review, name="review"),
]
