"""Exports (background jobs, downloaded through the app) and all-or-nothing imports of annotation files."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.annotations import exports, imports
from apps.annotations.models import AnnotationImportJob, ExportFormat, ExportJob
from apps.core.api.base import OrgApiView
from apps.core.api.parsers import SafeJSONParser
from apps.datasets.access import access_dataset
from apps.datasets.models import Dataset
from apps.storage.http import content_disposition


class ExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    filter = serializers.JSONField(required=False, default=dict,
                                   help_text="Query-language filter choosing the items, as in items/query/.")
    include_revisions = serializers.BooleanField(required=False, default=False,
                                                 help_text="Native format only: every annotation's history.")
    region = serializers.CharField(required=False, allow_blank=True, default="", max_length=20,
                                   help_text="Store the file in another region (default: the organisation's); "
                                             "needs a current transfer basis for that region.")


class ExportOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)
    size = serializers.IntegerField(source="result.size", default=None)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "dataset", "format", "filter", "include_revisions", "region", "status", "items_total",
                  "items_done", "annotations_done", "annotations_skipped", "skipped", "size", "error", "download_url",
                  "created_by", "created_at", "started_at", "finished_at", "withdrawn_at", "withdrawn_reason"]
        read_only_fields = fields

    def get_download_url(self, job) -> str | None:
        ready = job.status == ExportJob.Status.DONE and job.withdrawn_at is None
        return f"/api/v1/exports/{job.pk}/download/" if ready else None


class AnnotationImportOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", default=None)
    # Text, not an enum: the schema's "status" enum name belongs to the queued/running/done/failed jobs.
    status = serializers.CharField(help_text="queued, running, done, rejected (nothing imported: see errors) or "
                                             "failed.")

    class Meta:
        model = AnnotationImportJob
        fields = ["id", "dataset", "format", "filename", "status", "rows_total", "items_matched",
                  "annotations_created", "errors_total", "message", "created_by", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields


class AnnotationImportDetailOutput(AnnotationImportOutput):
    class Meta(AnnotationImportOutput.Meta):
        fields = [*AnnotationImportOutput.Meta.fields, "errors"]
        read_only_fields = fields


class DatasetExportsApi(OrgApiView):
    """A dataset's exports, newest first; POST starts one (202: it runs in the background, see `status`)."""

    model = Dataset
    serializer_class = ExportOutput
    parser_classes = [SafeJSONParser]
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="annotation.export")
        page = self.paginate_queryset(exports.export_job_list(dataset=dataset).select_related("created_by", "result"))
        return self.get_paginated_response(ExportOutput(page, many=True).data)

    @extend_schema(request=ExportInput, responses={202: ExportOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="annotation.export")
        data = ExportInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = exports.export_create(org=request.org, actor=request.user, dataset=dataset, **data.validated_data)
        return Response(ExportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(OrgApiView):
    model = ExportJob
    serializer_class = ExportOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        return Response(ExportOutput(exports.access_export_job(org=request.org, actor=request.user, job_id=pk)).data)


class ExportDownloadApi(OrgApiView):
    """The export's zip, decrypted and streamed as an attachment (Range supported); 409 until it is done."""

    model = ExportJob
    serializer_class = ExportOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        job = exports.access_export_job(org=request.org, actor=request.user, job_id=pk)
        return exports.export_download(request, org=request.org, actor=request.user, job=job)


class DatasetAnnotationImportsApi(OrgApiView):
    """Imports of annotation files into a dataset; POST multipart `file` and `format` (202, runs in the
    background; all or nothing: any error imports nothing and is listed in the job's `errors`)."""

    model = Dataset
    serializer_class = AnnotationImportOutput
    parser_classes = [MultiPartParser]
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="annotation.change")
        page = self.paginate_queryset(imports.annotation_import_list(dataset=dataset).select_related("created_by"))
        return self.get_paginated_response(AnnotationImportOutput(page, many=True).data)

    @extend_schema(request={"multipart/form-data": OpenApiTypes.OBJECT}, responses={202: AnnotationImportOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="annotation.change")
        job = imports.annotation_import_start(
            org=request.org, actor=request.user, dataset=dataset, upload=request.FILES.get("file"),
            format=str(request.data.get("format") or ""),
        )
        return Response(AnnotationImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class AnnotationImportDetailApi(OrgApiView):
    """An import's status and its per-row error report (the first 1,000 errors; `errors_total` counts all)."""

    model = AnnotationImportJob
    serializer_class = AnnotationImportDetailOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        job = imports.access_annotation_import(org=request.org, actor=request.user, job_id=pk)
        return Response(AnnotationImportDetailOutput(job).data)


class AnnotationImportErrorsCsvApi(OrgApiView):
    """The error report as CSV, cells that a spreadsheet would run as formulas neutralised."""

    model = AnnotationImportJob
    serializer_class = AnnotationImportDetailOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, pk):
        job = imports.access_annotation_import(org=request.org, actor=request.user, job_id=pk)
        response = HttpResponse(imports.error_report_csv(job), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition(f"import-{job.pk}-errors.csv", inline=False)
        response["X-Content-Type-Options"] = "nosniff"
        return response
