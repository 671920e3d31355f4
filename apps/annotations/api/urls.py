from django.urls import path

from . import migration_views, views

urlpatterns = [
    path("items/<int:pk>/annotations/", views.ItemAnnotationsApi.as_view(), name="item-annotations"),
    path("items/<int:pk>/annotations/changes/", views.ItemAnnotationsChangeApi.as_view(),
         name="item-annotations-changes"),
    path("items/<int:pk>/annotations/history/", views.ItemAnnotationHistoryApi.as_view(),
         name="item-annotations-history"),
    path("annotations/<int:pk>/", views.AnnotationDetailApi.as_view(), name="annotation-detail"),
    path("annotations/<int:pk>/history/", views.AnnotationHistoryApi.as_view(), name="annotation-history"),
    path("recipes/<int:pk>/migration-preview/", migration_views.LabelMigrationPreviewApi.as_view(),
         name="recipe-migration-preview"),
    path("recipes/<int:pk>/migrations/", migration_views.LabelMigrationStartApi.as_view(), name="recipe-migrations"),
    path("label-migrations/<int:pk>/", migration_views.LabelMigrationRunApi.as_view(), name="label-migration-detail"),
]
