from django.urls import path

from . import views

urlpatterns = [
    path("tokens/", views.TokenListApi.as_view(), name="token-list"),
    path("tokens/<int:pk>/", views.TokenDetailApi.as_view(), name="token-detail"),
]
