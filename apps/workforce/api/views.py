from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.datasets.access import access_dataset, access_item
from apps.recipes.access import access_recipe_version
from apps.recipes.selectors import dataset_recipe_version
from apps.workforce import selectors, services, unit_services
from apps.workforce.access import access_task, access_work_item
from apps.workforce.models import Task, WorkItem

from .serializers import (
    GoldInput,
    HeartbeatInput,
    MemberRefInput,
    NextInput,
    ReassignInput,
    ReviewCommentOutput,
    ReviewInput,
    SkipInput,
    TaskDetailOutput,
    TaskInput,
    TaskItemsInput,
    TaskItemsRemoveInput,
    TaskMemberInput,
    TaskMemberOutput,
    TaskOutput,
    TaskPatchInput,
    WorkItemOpenOutput,
    WorkItemOutput,
)

IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False,
                               description="A replay with the same key returns the first answer.")


class TaskListApi(OrgApiView):
    model = Task
    serializer_class = TaskOutput
    required_scopes = {"GET": "task.view", "POST": "task.manage"}

    def get(self, request):
        page = self.paginate_queryset(selectors.task_list(org=request.org))
        return self.get_paginated_response(TaskOutput(page, many=True).data)

    @extend_schema(request=TaskInput, responses={201: TaskDetailOutput})
    def post(self, request):
        data = TaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=values.pop("dataset_id"))
        version_id = values.pop("recipe_version_id", None)
        if version_id is not None:
            version = access_recipe_version(org=request.org, actor=request.user, version_id=version_id)
        else:
            version = dataset_recipe_version(org=request.org, dataset=dataset)
            if version is None:
                raise ValidationError({"recipe_version_id": "The dataset has no published recipe: name a version."})
        task = services.task_create(org=request.org, actor=request.user, dataset=dataset, recipe_version=version,
                                    **values)
        return Response(TaskDetailOutput(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(OrgApiView):
    model = Task
    serializer_class = TaskDetailOutput
    pagination_class = None
    required_scopes = {"GET": "task.work", "PATCH": "task.manage"}

    def get(self, request, pk):
        scope = "task.view" if self.actor_has("task.view") else "task.work"
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope=scope)
        return Response(TaskDetailOutput(task).data)

    @extend_schema(request=TaskPatchInput, responses=TaskDetailOutput)
    def patch(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = TaskPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_set_status(org=request.org, actor=request.user, task=task, **data.validated_data)
        return Response(TaskDetailOutput(task).data)


class TaskNextApi(OrgApiView):
    """Leases the caller's next unit: 200 with the unit, or 204 when there is no work for them now."""

    model = Task
    serializer_class = WorkItemOutput
    pagination_class = None
    required_scopes = {"POST": "task.work"}

    @extend_schema(request=NextInput, responses={200: WorkItemOutput, 204: None})
    def post(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.work")
        data = NextInput(data=request.data)
        data.is_valid(raise_exception=True)
        unit, resumed = unit_services.task_next(org=request.org, actor=request.user, task=task, **data.validated_data)
        if unit is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        response = Response(WorkItemOutput(unit).data)
        response["X-Resumed"] = "true" if resumed else "false"
        return response


class WorkItemDetailApi(OrgApiView):
    """A unit, its item and (to annotate) the model suggestions: what the studio opens."""

    model = WorkItem
    serializer_class = WorkItemOpenOutput
    pagination_class = None
    required_scopes = {"GET": "task.work"}

    def get(self, request, pk):
        return Response(WorkItemOpenOutput(access_work_item(org=request.org, actor=request.user, unit_id=pk)).data)


class WorkItemSubmitApi(OrgApiView):
    model = WorkItem
    serializer_class = WorkItemOutput
    pagination_class = None
    required_scopes = {"POST": "task.work"}

    @extend_schema(request=None, parameters=[IDEMPOTENCY], responses=WorkItemOutput)
    def post(self, request, pk):
        unit = access_work_item(org=request.org, actor=request.user, unit_id=pk)
        code, body = unit_services.work_item_submit(
            org=request.org, actor=request.user, unit=unit, idempotency_key=request.headers.get("Idempotency-Key"),
            render=lambda u: WorkItemOutput(u).data)
        return Response(body, status=code)


class WorkItemReviewApi(OrgApiView):
    model = WorkItem
    serializer_class = WorkItemOutput
    pagination_class = None
    required_scopes = {"POST": "task.work"}

    @extend_schema(request=ReviewInput, parameters=[IDEMPOTENCY], responses=WorkItemOutput)
    def post(self, request, pk):
        unit = access_work_item(org=request.org, actor=request.user, unit_id=pk)
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        code, body = unit_services.review_decide(
            org=request.org, actor=request.user, unit=unit, approve=data.validated_data["decision"] == "approve",
            comments=data.validated_data["comments"], idempotency_key=request.headers.get("Idempotency-Key"),
            render=lambda u: WorkItemOutput(u).data)
        return Response(body, status=code)


class _UnitActionApi(OrgApiView):
    """POST one validated body to one service that acts on the caller's unit and answers with the unit."""

    model = WorkItem
    serializer_class = WorkItemOutput
    pagination_class = None
    required_scopes = {"POST": "task.work"}
    input_class = None
    unit_service = None  # a unit_services function (org, actor, unit, **input) -> WorkItem, as a staticmethod

    def post(self, request, pk):
        unit = access_work_item(org=request.org, actor=request.user, unit_id=pk)
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        unit = self.unit_service(org=request.org, actor=request.user, unit=unit, **data.validated_data)
        return Response(WorkItemOutput(unit).data)


@extend_schema(request=SkipInput, responses=WorkItemOutput)
class WorkItemSkipApi(_UnitActionApi):
    input_class = SkipInput
    unit_service = staticmethod(unit_services.work_item_skip)


@extend_schema(request=HeartbeatInput, responses=WorkItemOutput)
class WorkItemHeartbeatApi(_UnitActionApi):
    input_class = HeartbeatInput
    unit_service = staticmethod(unit_services.work_item_heartbeat)


class TaskMembersApi(OrgApiView):
    model = Task
    serializer_class = TaskMemberOutput
    required_scopes = {"GET": "task.view", "POST": "task.manage"}

    def get(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk)
        page = self.paginate_queryset(selectors.task_members(task=task))
        return self.get_paginated_response(TaskMemberOutput(page, many=True).data)

    @extend_schema(request=TaskMemberInput, responses={201: TaskMemberOutput})
    def post(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = TaskMemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.task_member_add(org=request.org, actor=request.user, task=task, **data.validated_data)
        return Response(TaskMemberOutput(member).data, status=status.HTTP_201_CREATED)


class _TaskCountActionApi(OrgApiView):
    """A manager's POST on a task: one validated body to one service that answers how many units it touched."""

    model = Task
    pagination_class = None
    required_scopes = {"POST": "task.manage"}
    task_service = None  # services function (org, actor, task, **input) -> int, as a staticmethod
    answer_key = ""

    def post(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = self.serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        count = self.task_service(org=request.org, actor=request.user, task=task, **data.validated_data)
        return Response({self.answer_key: count})


@extend_schema(request=MemberRefInput, responses={200: None})
class TaskMemberRemoveApi(_TaskCountActionApi):
    """Removes a person from the task; their queued and leased units are redistributed."""

    serializer_class = MemberRefInput
    task_service = staticmethod(services.task_member_remove)
    answer_key = "units_released"


class WorkItemReassignApi(OrgApiView):
    model = WorkItem
    serializer_class = WorkItemOutput
    pagination_class = None
    required_scopes = {"POST": "task.manage"}

    @extend_schema(request=ReassignInput, responses=WorkItemOutput)
    def post(self, request, pk):
        unit = access_work_item(org=request.org, actor=request.user, unit_id=pk, scope="task.manage")
        data = ReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        unit = unit_services.work_item_reassign(org=request.org, actor=request.user, unit=unit,
                                           user_id=data.validated_data["user_id"])
        return Response(WorkItemOutput(unit).data)


class TaskGoldApi(OrgApiView):
    """Marks an item of the task as gold: served as a honeypot at the task's rate (always, in a training task)."""

    model = Task
    serializer_class = GoldInput
    pagination_class = None
    required_scopes = {"POST": "task.manage"}

    @extend_schema(request=GoldInput, responses={201: None})
    def post(self, request, pk):
        task = access_task(org=request.org, actor=request.user, task_id=pk, scope="task.manage")
        data = GoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = access_item(org=request.org, actor=request.user, item_id=data.validated_data["item_id"])
        gold = services.task_gold_add(org=request.org, actor=request.user, task=task, item=item)
        return Response({"id": gold.pk, "item_id": item.pk, "annotations": len(gold.truth)},
                        status=status.HTTP_201_CREATED)


class WorkItemCommentsApi(OrgApiView):
    """The review comments on a unit (pinned to annotations where they name one), for its annotator to fix."""

    model = WorkItem
    serializer_class = ReviewCommentOutput
    required_scopes = {"GET": "task.work"}

    def get(self, request, pk):
        unit = access_work_item(org=request.org, actor=request.user, unit_id=pk)
        page = self.paginate_queryset(selectors.review_comments(unit=unit))
        return self.get_paginated_response(ReviewCommentOutput(page, many=True).data)


@extend_schema(request=TaskItemsInput, responses={200: None})
class TaskItemsApi(_TaskCountActionApi):
    """Adds the dataset's items matching a filter to the task."""

    serializer_class = TaskItemsInput
    task_service = staticmethod(services.task_items_add)
    answer_key = "units_added"


@extend_schema(request=TaskItemsRemoveInput, responses={200: None})
class TaskItemsRemoveApi(_TaskCountActionApi):
    """Takes items out of the task; their unfinished units are cancelled."""

    serializer_class = TaskItemsRemoveInput
    task_service = staticmethod(services.task_items_remove)
    answer_key = "units_cancelled"
