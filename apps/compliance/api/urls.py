from django.urls import path

from . import views

urlpatterns = [
    path("audit-events/", views.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/<int:pk>/", views.AuditEventDetailApi.as_view(), name="audit-event-detail"),
    path("audit-events/export/", views.AuditExportApi.as_view(), name="audit-export"),
    path("audit-events/signing-key/", views.AuditSigningKeyApi.as_view(), name="audit-signing-key"),
    path("processing-register/", views.ProcessingRegisterApi.as_view(), name="processing-register"),
]
