from django.urls import path

from . import views

app_name = "compliance"
urlpatterns = [
    path("o/<slug:org_slug>/audit/", views.audit_log, name="audit_log"),
    path("o/<slug:org_slug>/audit/verify/", views.audit_verify, name="audit_verify"),
    path("o/<slug:org_slug>/audit/export/", views.audit_export, name="audit_export"),
    path("o/<slug:org_slug>/audit/objects/<str:target_type>/<path:target_id>/", views.audit_object_history,
         name="object_history"),
    path("o/<slug:org_slug>/audit/people/<int:user_id>/", views.audit_person_history, name="person_history"),
    path("o/<slug:org_slug>/audit/access-report/", views.access_report, name="access_report"),
    path("o/<slug:org_slug>/audit/processing-register/", views.processing_register, name="processing_register"),
    path("o/<slug:org_slug>/compliance/residency/", views.residency, name="residency"),
]
