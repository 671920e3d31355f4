from django.urls import path

from . import views

urlpatterns = [
    path("items/<int:pk>/annotations/", views.ItemAnnotationsApi.as_view(), name="item-annotations"),
    path("items/<int:pk>/annotations/changes/", views.ItemAnnotationsChangeApi.as_view(),
         name="item-annotations-changes"),
    path("items/<int:pk>/annotations/history/", views.ItemAnnotationHistoryApi.as_view(),
         name="item-annotations-history"),
    path("annotations/<int:pk>/", views.AnnotationDetailApi.as_view(), name="annotation-detail"),
    path("annotations/<int:pk>/history/", views.AnnotationHistoryApi.as_view(), name="annotation-history"),
]
