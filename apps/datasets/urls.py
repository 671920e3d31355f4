from django.urls import path

from . import version_views, views

app_name = "datasets"
urlpatterns = [
    path("o/<slug:org_slug>/datasets/", views.dataset_list, name="list"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/", views.dataset_browser, name="browser"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/bulk/", views.items_bulk, name="bulk"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/upload/", views.dataset_upload, name="upload"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/import/", views.import_start, name="import_start"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/saved-filters/", views.saved_filter_create,
         name="saved_filter_create"),
    path("o/<slug:org_slug>/saved-filters/<int:saved_filter_id>/delete/", views.saved_filter_delete,
         name="saved_filter_delete"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/versions/", version_views.dataset_versions, name="versions"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/versions/<int:version_id>/regenerate/",
         version_views.dataset_version_regenerate, name="version_regenerate"),
    path("o/<slug:org_slug>/datasets/<int:dataset_id>/settings/", views.dataset_settings, name="settings"),
    path("o/<slug:org_slug>/imports/<int:job_id>/errors/", views.import_errors, name="import_errors"),
    path("o/<slug:org_slug>/items/<int:item_id>/", views.item_detail, name="item"),
    path("o/<slug:org_slug>/items/<int:item_id>/edit/", views.item_edit, name="item_edit"),
    path("o/<slug:org_slug>/items/<int:item_id>/metadata/", views.item_metadata, name="item_metadata"),
    path("o/<slug:org_slug>/items/<int:item_id>/delete/", views.item_delete, name="item_delete"),
]
