from django.urls import path

from . import views

app_name = "recipes"
urlpatterns = [
    path("o/<slug:org_slug>/recipes/", views.recipe_list, name="list"),
    path("o/<slug:org_slug>/recipes/import/", views.recipe_import, name="import"),
    path("o/<slug:org_slug>/recipes/<int:recipe_id>/", views.recipe_editor, name="editor"),
    path("o/<slug:org_slug>/recipes/<int:recipe_id>/publish/", views.recipe_publish, name="publish"),
    path("o/<slug:org_slug>/recipes/<int:recipe_id>/dataset/", views.recipe_dataset_set, name="dataset_set"),
    path("o/<slug:org_slug>/recipes/<int:recipe_id>/delete/", views.recipe_delete, name="delete"),
]
