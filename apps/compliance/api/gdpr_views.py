"""GDPR data-subject requests: record, verify, reject, run, and download the bundle or the erasure certificate."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.compliance import gdpr
from apps.compliance.models import DataSubjectRequest
from apps.core.api.base import OrgApiView


class GdprRequestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DataSubjectRequest.Kind.choices)
    subject_value = serializers.CharField(max_length=200, help_text="The subject's identifier: the value their "
                                                                    "items hold under each dataset's subject_key.")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                            help_text="When the request arrived (default now); due 30 days later.")


class GdprVerifyInput(serializers.Serializer):
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="",
                                  help_text="How the requester's identity was checked.")


class GdprRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class GdprRequestOutput(serializers.ModelSerializer):
    requested_by = serializers.EmailField(source="requested_by.email", default=None)
    verified_by = serializers.EmailField(source="verified_by.email", default=None)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DataSubjectRequest
        fields = ["id", "kind", "status", "subject_value", "subject_pseudonym", "received_at", "due_at",
                  "requested_by", "verified_by", "verified_at", "notes", "result", "error", "download_url",
                  "created_at", "updated_at", "finished_at"]
        read_only_fields = fields

    def get_download_url(self, request) -> str | None:
        if request.status != DataSubjectRequest.Status.DONE:
            return None
        return f"/api/v1/gdpr-requests/{request.pk}/download/"


class GdprRequestListApi(OrgApiView):
    """The organisation's data-subject requests, newest first; POST records one (status `received`)."""

    model = DataSubjectRequest
    serializer_class = GdprRequestOutput
    required_scopes = {"GET": "gdpr.manage", "POST": "gdpr.manage"}

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=DataSubjectRequest.Status.values,
                                                description="Only requests in this state.")])
    def get(self, request):
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in DataSubjectRequest.Status.values:
            raise serializers.ValidationError(
                {"status": f"Choose one of {', '.join(DataSubjectRequest.Status.values)}."})
        qs = gdpr.gdpr_request_list(org=request.org, status=wanted).select_related("requested_by", "verified_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(GdprRequestOutput(page, many=True).data)

    @extend_schema(request=GdprRequestInput, responses={201: GdprRequestOutput})
    def post(self, request):
        data = GdprRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = gdpr.gdpr_request_create(org=request.org, actor=request.user, **data.validated_data)
        return Response(GdprRequestOutput(created).data, status=status.HTTP_201_CREATED)


class GdprRequestDetailApi(OrgApiView):
    model = DataSubjectRequest
    serializer_class = GdprRequestOutput
    pagination_class = None
    required_scopes = {"GET": "gdpr.manage"}

    def get(self, request, pk):
        return Response(GdprRequestOutput(gdpr.access_gdpr_request(org=request.org, actor=request.user,
                                                                   request_id=pk)).data)


class _GdprTransitionApi(OrgApiView):
    """POST one validated body to the service that moves the request on, and answer with the request."""

    model = DataSubjectRequest
    serializer_class = GdprRequestOutput
    pagination_class = None
    required_scopes = {"POST": "gdpr.manage"}
    input_class = None
    transition = None  # a gdpr function (org, actor, request, **input) -> DataSubjectRequest, as a staticmethod

    def post(self, request, pk):
        found = gdpr.access_gdpr_request(org=request.org, actor=request.user, request_id=pk)
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        moved = self.transition(org=request.org, actor=request.user, request=found, **data.validated_data)
        return Response(GdprRequestOutput(moved).data)


@extend_schema(request=GdprVerifyInput, responses=GdprRequestOutput)
class GdprRequestVerifyApi(_GdprTransitionApi):
    """The requester's identity was checked: received -> verified (409 from any other state)."""

    input_class = GdprVerifyInput
    transition = staticmethod(gdpr.gdpr_request_verify)


@extend_schema(request=GdprRejectInput, responses=GdprRequestOutput)
class GdprRequestRejectApi(_GdprTransitionApi):
    """Refuses a received or verified request, saying why (409 once it runs)."""

    input_class = GdprRejectInput
    transition = staticmethod(gdpr.gdpr_request_reject)


class GdprRequestRunApi(OrgApiView):
    """Runs a verified request in the background (202; `status` turns `done`): the access bundle, or erasure."""

    model = DataSubjectRequest
    serializer_class = GdprRequestOutput
    pagination_class = None
    required_scopes = {"POST": "gdpr.manage"}

    @extend_schema(request=None, responses={202: GdprRequestOutput})
    def post(self, request, pk):
        found = gdpr.access_gdpr_request(org=request.org, actor=request.user, request_id=pk)
        started = gdpr.gdpr_request_run(org=request.org, actor=request.user, request=found)
        return Response(GdprRequestOutput(started).data, status=status.HTTP_202_ACCEPTED)


class GdprRequestDownloadApi(OrgApiView):
    """The access bundle (JSON, no item content) or the signed erasure certificate; 409 until done. Audited."""

    model = DataSubjectRequest
    serializer_class = GdprRequestOutput
    pagination_class = None
    required_scopes = {"GET": "gdpr.manage"}

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        found = gdpr.access_gdpr_request(org=request.org, actor=request.user, request_id=pk)
        return gdpr.gdpr_request_download(request, org=request.org, actor=request.user, request=found)
