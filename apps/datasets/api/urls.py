from django.urls import path

from . import versions_views, views

urlpatterns = [
    path("datasets/", views.DatasetListApi.as_view(), name="dataset-list"),
    path("datasets/<int:pk>/", views.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("datasets/<int:pk>/items/", views.DatasetItemsApi.as_view(), name="dataset-items"),
    path("datasets/<int:pk>/items/query/", views.ItemQueryApi.as_view(), name="dataset-items-query"),
    path("datasets/<int:pk>/items/bulk/", views.ItemBulkApi.as_view(), name="dataset-items-bulk"),
    path("datasets/<int:pk>/imports/", views.DatasetImportsApi.as_view(), name="dataset-imports"),
    path("datasets/<int:pk>/folders/", views.DatasetFoldersApi.as_view(), name="dataset-folders"),
    path("datasets/<int:pk>/saved-filters/", views.SavedFilterListApi.as_view(), name="dataset-saved-filters"),
    path("saved-filters/<int:pk>/", views.SavedFilterDetailApi.as_view(), name="saved-filter-detail"),
    path("imports/<int:pk>/", views.ImportJobDetailApi.as_view(), name="import-detail"),
    path("imports/<int:pk>/errors/", views.ImportJobErrorsApi.as_view(), name="import-errors"),
    path("items/<int:pk>/", views.ItemDetailApi.as_view(), name="item-detail"),
    path("items/<int:pk>/content/", views.ItemContentApi.as_view(), name="item-content"),
    path("items/<int:pk>/thumbnail/", views.ItemThumbnailApi.as_view(), name="item-thumbnail"),
    path("datasets/<int:pk>/versions/", versions_views.DatasetVersionListApi.as_view(), name="dataset-versions"),
    path("dataset-versions/<int:pk>/", versions_views.DatasetVersionDetailApi.as_view(),
         name="dataset-version-detail"),
    path("dataset-versions/<int:pk>/diff/", versions_views.DatasetVersionDiffApi.as_view(),
         name="dataset-version-diff"),
    path("dataset-versions/<int:pk>/download/", versions_views.DatasetVersionDownloadApi.as_view(),
         name="dataset-version-download"),
    path("dataset-versions/<int:pk>/regenerate/", versions_views.DatasetVersionRegenerateApi.as_view(),
         name="dataset-version-regenerate"),
]
