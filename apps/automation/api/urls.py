from django.urls import path

from . import views

urlpatterns = [
    path("models/", views.ModelListApi.as_view(), name="model-list"),
    path("models/<int:pk>/", views.ModelDetailApi.as_view(), name="model-detail"),
    path("models/<int:pk>/versions/", views.ModelVersionListApi.as_view(), name="model-versions"),
    path("model-versions/<int:pk>/", views.ModelVersionDetailApi.as_view(), name="model-version-detail"),
    path("model-versions/<int:pk>/preannotate/", views.ModelVersionPreannotateApi.as_view(),
         name="model-version-preannotate"),
    path("model-versions/<int:pk>/agreement/", views.ModelVersionAgreementApi.as_view(),
         name="model-version-agreement"),
    path("pipelines/", views.PipelineListApi.as_view(), name="pipeline-list"),
    path("pipelines/<int:pk>/", views.PipelineDetailApi.as_view(), name="pipeline-detail"),
    path("pipelines/<int:pk>/validate/", views.PipelineValidateApi.as_view(), name="pipeline-validate"),
    path("pipelines/<int:pk>/take-over/", views.PipelineTakeOverApi.as_view(), name="pipeline-take-over"),
    path("pipelines/<int:pk>/webhook-secret/rotate/", views.PipelineWebhookSecretRotateApi.as_view(),
         name="pipeline-webhook-secret-rotate"),
    path("pipelines/<int:pk>/run/", views.PipelineRunStartApi.as_view(), name="pipeline-run"),
    path("pipelines/<int:pk>/runs/", views.PipelineRunListApi.as_view(), name="pipeline-runs"),
    path("pipeline-runs/<int:pk>/", views.PipelineRunDetailApi.as_view(), name="pipeline-run-detail"),
    path("pipeline-runs/<int:pk>/retry-failed/", views.PipelineRunRetryFailedApi.as_view(),
         name="pipeline-run-retry-failed"),
]
