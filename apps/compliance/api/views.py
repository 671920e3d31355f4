from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from apps.compliance import console, signing
from apps.compliance.access import access_audit_event
from apps.compliance.exports import audit_export_create, open_and_forget
from apps.compliance.models import AuditEvent
from apps.core.api.base import OrgApiView
from apps.datasets.models import Dataset
from apps.storage.http import content_disposition

from .serializers import (
    AuditEventFilter,
    AuditEventOutput,
    AuditExportQuery,
    AuditSigningKeyOutput,
    ProcessingRegisterOutput,
    ResidencyOutput,
)


class AuditEventListApi(OrgApiView):
    model = AuditEvent
    serializer_class = AuditEventOutput
    required_scopes = {"GET": "audit.view"}

    @extend_schema(parameters=[AuditEventFilter])
    def get(self, request):
        filters = AuditEventFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = console.audit_event_search(
            org=request.org, actor=request.user, actor_email=f.get("actor", ""), action=f.get("action", ""),
            since=f.get("since"), until=f.get("until"), target_type=f.get("target_type", ""),
            target_id=f.get("target_id", ""), actor_id=f.get("actor_id"), dataset_id=f.get("dataset_id"),
            ip=f.get("ip"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)


class AuditEventDetailApi(OrgApiView):
    model = AuditEvent
    serializer_class = AuditEventOutput
    required_scopes = {"GET": "audit.view"}

    def get(self, request, pk):
        return Response(AuditEventOutput(access_audit_event(org=request.org, actor=request.user, event_id=pk)).data)


class AuditExportApi(OrgApiView):
    # A period of the organisation's audit chain as a signed zip (see VERIFY.txt inside).
    model = AuditEvent
    required_scopes = {"GET": "audit.view"}

    @extend_schema(parameters=[AuditExportQuery],
                   responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request):
        query = AuditExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        export = audit_export_create(org=request.org, actor=request.user, **query.validated_data)
        response = FileResponse(open_and_forget(export), content_type="application/zip")
        response["Content-Disposition"] = content_disposition(export.filename, inline=False)
        return response


class AuditSigningKeyApi(OrgApiView):
    # The public key that signs this deployment's audit exports, for auditors.
    model = AuditEvent
    serializer_class = AuditSigningKeyOutput
    required_scopes = {"GET": "audit.view"}

    def get(self, request):
        return Response(AuditSigningKeyOutput({
            "public_key_pem": signing.public_key_pem().decode(),
            "fingerprint_sha256": signing.public_key_fingerprint(),
            "configured": signing.is_configured(),
        }).data)


class ProcessingRegisterApi(OrgApiView):
    # The record of processing activities (GDPR art. 30) of the organisation, generated from its datasets and the
    # deployment's configured processors.
    model = Dataset
    serializer_class = ProcessingRegisterOutput
    pagination_class = None
    required_scopes = {"GET": "audit.view"}

    def get(self, request):
        return Response(ProcessingRegisterOutput(console.processing_register(org=request.org)).data)


class ResidencyApi(OrgApiView):
    # Where each kind of the organisation's data lives, and the stored objects found outside its region.
    model = Dataset
    serializer_class = ResidencyOutput
    pagination_class = None
    required_scopes = {"GET": "audit.view"}

    def get(self, request):
        from apps.compliance.residency import residency_report

        return Response(ResidencyOutput(residency_report(org=request.org)).data)
