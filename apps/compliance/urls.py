from django.urls import path

from . import transfer_views, views

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
    path("o/<slug:org_slug>/compliance/residency/transfers/", transfer_views.transfer_basis_record,
         name="transfer_basis_record"),
    path("o/<slug:org_slug>/compliance/residency/transfers/<int:basis_id>/revoke/",
         transfer_views.transfer_basis_revoke, name="transfer_basis_revoke"),
    path("o/<slug:org_slug>/compliance/gdpr/", views.gdpr_requests, name="gdpr_requests"),
    path("o/<slug:org_slug>/compliance/gdpr/<int:request_id>/", views.gdpr_request_detail, name="gdpr_request"),
    path("o/<slug:org_slug>/compliance/gdpr/<int:request_id>/download/", views.gdpr_request_download,
         name="gdpr_request_download"),
    path("o/<slug:org_slug>/compliance/gdpr/<int:request_id>/<str:action>/", views.gdpr_request_transition,
         name="gdpr_request_transition"),
]
