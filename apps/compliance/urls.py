from django.urls import path

from . import views

app_name = "compliance"
urlpatterns = [
    path("o/<slug:org_slug>/audit/", views.audit_log, name="audit_log"),
    path("o/<slug:org_slug>/audit/verify/", views.audit_verify, name="audit_verify"),
    path("o/<slug:org_slug>/audit/export/", views.audit_export, name="audit_export"),
]
