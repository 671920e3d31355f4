from django.urls import path

from . import exchange_views, migration_views, views

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
    path("datasets/<int:pk>/exports/", exchange_views.DatasetExportsApi.as_view(), name="dataset-exports"),
    path("exports/<int:pk>/", exchange_views.ExportDetailApi.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", exchange_views.ExportDownloadApi.as_view(), name="export-download"),
    path("datasets/<int:pk>/annotation-imports/", exchange_views.DatasetAnnotationImportsApi.as_view(),
         name="dataset-annotation-imports"),
    path("annotation-imports/<int:pk>/", exchange_views.AnnotationImportDetailApi.as_view(),
         name="annotation-import-detail"),
    path("annotation-imports/<int:pk>/errors.csv", exchange_views.AnnotationImportErrorsCsvApi.as_view(),
         name="annotation-import-errors-csv"),
]
