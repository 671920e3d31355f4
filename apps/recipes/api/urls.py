from django.urls import path

from . import views

urlpatterns = [
    path("recipes/", views.RecipeListApi.as_view(), name="recipe-list"),
    path("recipes/import/", views.RecipeImportApi.as_view(), name="recipe-import"),
    path("recipes/<int:pk>/", views.RecipeDetailApi.as_view(), name="recipe-detail"),
    path("recipes/<int:pk>/publish/", views.RecipePublishApi.as_view(), name="recipe-publish"),
    path("recipes/<int:pk>/versions/", views.RecipeVersionListApi.as_view(), name="recipe-versions"),
    path("recipes/<int:pk>/export/", views.RecipeExportApi.as_view(), name="recipe-export"),
    path("recipe-versions/<int:pk>/", views.RecipeVersionDetailApi.as_view(), name="recipe-version-detail"),
    path("datasets/<int:pk>/recipe/", views.DatasetRecipeApi.as_view(), name="dataset-recipe"),
]
