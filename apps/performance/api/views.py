from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.performance import services
from apps.performance.reports import ReportQuery
from apps.workforce.access import access_task
from apps.workforce.models import Task

from .serializers import MemberRateInput, MemberRateOutput, OrgReportQuery, OwnReportQuery, TaskReportQuery

RESPONSES = {200: OpenApiResponse(OpenApiTypes.OBJECT,
                                  description="JSON {group, stage, from, to, columns, results[, task]}, or the "
                                              "report as a CSV, XLSX or Parquet file (format=...).")}


class JsonOnly(BaseContentNegotiation):
    """`format` is this API's own parameter (json, csv, xlsx, parquet): answers and errors are JSON, files are
    returned as plain responses, so DRF's format override must not look at it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class _ReportApi(OrgApiView):
    model = Task
    pagination_class = None
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
    query_class = TaskReportQuery
    own = False

    def answer(self, request, *, task=None, person_id=None):
        params = self.query_class(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = params.validated_data
        query = ReportQuery(group=values["group"], stage=values["stage"], task_id=task.pk if task else None,
                            person_id=person_id, start=values.get("from"), end=values.get("to"))
        if values["format"] == "json":
            return Response(services.report_get(org=request.org, actor=request.user, query=query, task=task,
                                                own=self.own))
        content, content_type, filename = services.report_download(
            org=request.org, actor=request.user, query=query, fmt=values["format"], task=task, own=self.own)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class TaskPerformanceApi(_ReportApi):
    """A task's performance report per annotator, reviewer, task or day, as JSON or a file."""

    required_scopes = {"GET": "task.view"}

    @extend_schema(parameters=[TaskReportQuery], responses=RESPONSES)
    def get(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.view")
        return self.answer(request, task=task)


class OrgPerformanceApi(_ReportApi):
    """The organisation's performance report over all its tasks (per task by default)."""

    required_scopes = {"GET": "task.view"}
    query_class = OrgReportQuery

    @extend_schema(parameters=[OrgReportQuery], responses=RESPONSES)
    def get(self, request):
        return self.answer(request)


class OwnPerformanceApi(_ReportApi):
    """The caller's own scorecard, per task or per day: nobody else's figures."""

    required_scopes = {"GET": "task.work"}
    query_class = OwnReportQuery
    own = True

    @extend_schema(parameters=[OwnReportQuery], responses=RESPONSES)
    def get(self, request):
        return self.answer(request, person_id=request.user.pk)


class TaskMemberRateApi(OrgApiView):
    """Sets what a member is paid per active hour on this task (performance reports' cost)."""

    model = Task
    serializer_class = MemberRateOutput
    pagination_class = None
    required_scopes = {"POST": "task.manage"}

    @extend_schema(request=MemberRateInput, responses=MemberRateOutput)
    def post(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = MemberRateInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_rate_set(org=request.org, actor=request.user, task=task, **data.validated_data)
        return Response(MemberRateOutput(member).data)
