from django.urls import path

from . import views

app_name = "annotations"
urlpatterns = [
    path("o/<slug:org_slug>/items/<int:item_id>/annotate/", views.studio, name="studio"),
]
