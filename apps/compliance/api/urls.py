from django.urls import path

from . import gdpr_views, transfer_views, views

urlpatterns = [
    path("audit-events/", views.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/<int:pk>/", views.AuditEventDetailApi.as_view(), name="audit-event-detail"),
    path("audit-events/export/", views.AuditExportApi.as_view(), name="audit-export"),
    path("audit-events/signing-key/", views.AuditSigningKeyApi.as_view(), name="audit-signing-key"),
    path("processing-register/", views.ProcessingRegisterApi.as_view(), name="processing-register"),
    path("residency/", views.ResidencyApi.as_view(), name="residency"),
    path("transfer-bases/", transfer_views.TransferBasisListApi.as_view(), name="transfer-basis-list"),
    path("transfer-bases/<int:pk>/revoke/", transfer_views.TransferBasisRevokeApi.as_view(),
         name="transfer-basis-revoke"),
    path("gdpr-requests/", gdpr_views.GdprRequestListApi.as_view(), name="gdpr-request-list"),
    path("gdpr-requests/<int:pk>/", gdpr_views.GdprRequestDetailApi.as_view(), name="gdpr-request-detail"),
    path("gdpr-requests/<int:pk>/verify/", gdpr_views.GdprRequestVerifyApi.as_view(), name="gdpr-request-verify"),
    path("gdpr-requests/<int:pk>/reject/", gdpr_views.GdprRequestRejectApi.as_view(), name="gdpr-request-reject"),
    path("gdpr-requests/<int:pk>/run/", gdpr_views.GdprRequestRunApi.as_view(), name="gdpr-request-run"),
    path("gdpr-requests/<int:pk>/download/", gdpr_views.GdprRequestDownloadApi.as_view(),
         name="gdpr-request-download"),
]
