from django.urls import path

from . import views

urlpatterns = [
    path("models/", views.ModelListApi.as_view(), name="model-list"),
    path("models/<int:pk>/", views.ModelDetailApi.as_view(), name="model-detail"),
    path("models/<int:pk>/versions/", views.ModelVersionListApi.as_view(), name="model-versions"),
    path("model-versions/<int:pk>/", views.ModelVersionDetailApi.as_view(), name="model-version-detail"),
    path("model-versions/<int:pk>/preannotate/", views.ModelVersionPreannotateApi.as_view(),
         name="model-version-preannotate"),
]
