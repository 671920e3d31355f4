from django.urls import path

from . import views

app_name = "automation"
urlpatterns = [
    path("o/<slug:org_slug>/pipelines/", views.pipeline_list, name="list"),
    path("o/<slug:org_slug>/models/", views.model_list, name="models"),
    path("o/<slug:org_slug>/models/<int:model_id>/", views.model_detail, name="model"),
    path("o/<slug:org_slug>/pipelines/<int:pipeline_id>/", views.pipeline_builder, name="builder"),
    path("o/<slug:org_slug>/pipelines/<int:pipeline_id>/take-over/", views.pipeline_take_over, name="take_over"),
    path("o/<slug:org_slug>/pipelines/<int:pipeline_id>/webhook-secret/", views.pipeline_webhook_secret_rotate_page,
         name="webhook_secret_rotate"),
    path("o/<slug:org_slug>/pipeline-runs/<int:run_id>/", views.pipeline_run_monitor, name="run"),
]
