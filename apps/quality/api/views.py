from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.quality import selectors, services
from apps.workforce.access import access_task
from apps.workforce.models import Task

from .serializers import OwnQualityOutput, PolicyInput, PolicyOutput, TaskQualityOutput


class TaskQualityApi(OrgApiView):
    """Each annotator's quality score on the task over its window, with its confidence and components."""

    model = Task
    serializer_class = TaskQualityOutput
    pagination_class = None
    required_scopes = {"GET": "task.view"}

    def get(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.view")
        return Response(TaskQualityOutput(selectors.task_quality(org=request.org, task=task)).data)


class TaskQualityPolicyApi(OrgApiView):
    """The task's score window and its thresholds (warn, pause, requalify), each acting once per breach."""

    model = Task
    serializer_class = PolicyOutput
    pagination_class = None
    required_scopes = {"GET": "task.view", "PUT": "task.manage"}

    def get(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.view")
        return Response(PolicyOutput(services.quality_policy_describe(task=task)).data)

    @extend_schema(request=PolicyInput, responses=PolicyOutput)
    def put(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.quality_policy_set(org=request.org, actor=request.user, task=task, **data.validated_data)
        return Response(PolicyOutput(services.quality_policy_describe(task=task)).data)


class OwnQualityApi(OrgApiView):
    """The caller's own quality score, overall and per task: nobody else's."""

    model = Task
    serializer_class = OwnQualityOutput
    pagination_class = None
    required_scopes = {"GET": "task.work"}

    def get(self, request):
        return Response(OwnQualityOutput(selectors.own_quality(org=request.org, user=request.user)).data)
