from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.compliance import selectors
from apps.compliance.access import access_audit_event
from apps.compliance.models import AuditEvent
from apps.core.api.base import OrgApiView

from .serializers import AuditEventFilter, AuditEventOutput


class AuditEventListApi(OrgApiView):
    model = AuditEvent
    serializer_class = AuditEventOutput
    required_scopes = {"GET": "audit.view"}

    @extend_schema(parameters=[AuditEventFilter])
    def get(self, request):
        filters = AuditEventFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        qs = selectors.audit_event_list(
            org=request.org, actor=request.user, actor_email=f.get("actor", ""), action=f.get("action", ""),
            since=f.get("since"), until=f.get("until"), target_type=f.get("target_type", ""),
            target_id=f.get("target_id", ""),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AuditEventOutput(page, many=True).data)


class AuditEventDetailApi(OrgApiView):
    model = AuditEvent
    serializer_class = AuditEventOutput
    required_scopes = {"GET": "audit.view"}

    def get(self, request, pk):
        return Response(AuditEventOutput(access_audit_event(org=request.org, actor=request.user, event_id=pk)).data)
