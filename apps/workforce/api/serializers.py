from django.urls import reverse
from rest_framework import serializers

from apps.workforce.models import ReviewComment, ReviewRound, Task, TaskMember, WorkItem


class TaskOutput(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "name", "dataset", "recipe_version", "query", "live", "status", "distribution", "consensus",
                  "review_ratio", "honeypot_rate", "priority", "due_at", "annotator_cap", "lease_seconds",
                  "is_training", "pass_threshold", "created_at"]
        read_only_fields = fields


class TaskDetailOutput(TaskOutput):
    counts = serializers.SerializerMethodField()

    class Meta(TaskOutput.Meta):
        fields = [*TaskOutput.Meta.fields, "counts"]
        read_only_fields = fields

    def get_counts(self, task) -> dict:
        from apps.workforce.selectors import task_counts

        return task_counts(task=task)


class TaskMemberInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)
    role = serializers.ChoiceField(choices=TaskMember.Role.choices)
    weight = serializers.FloatField(min_value=0.01, max_value=100, default=1.0)


class TaskInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    dataset_id = serializers.IntegerField(min_value=1)
    recipe_version_id = serializers.IntegerField(min_value=1, required=False,
                                                 help_text="Default: the dataset's recipe, latest version.")
    query = serializers.JSONField(required=False, default=dict)
    live = serializers.BooleanField(required=False, default=False,
                                    help_text="Items added to the dataset later join when they match the query.")
    distribution = serializers.ChoiceField(choices=Task.Distribution.choices, required=False,
                                           default=Task.Distribution.PULL)
    consensus = serializers.IntegerField(min_value=1, max_value=10, required=False, default=1)
    review_ratio = serializers.FloatField(min_value=0, max_value=1, required=False, default=0)
    honeypot_rate = serializers.FloatField(min_value=0, max_value=0.5, required=False, default=0)
    priority = serializers.IntegerField(min_value=-1000, max_value=1000, required=False, default=0)
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    annotator_cap = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    lease_seconds = serializers.IntegerField(min_value=30, max_value=24 * 3600, required=False, default=900)
    members = TaskMemberInput(many=True, required=False, default=list)


class TaskPatchInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Task.Status.ACTIVE, Task.Status.PAUSED])


class NextInput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=WorkItem.Stage.choices, default=WorkItem.Stage.ANNOTATE)


class WorkItemOutput(serializers.ModelSerializer):
    """A unit as its worker sees it. Whether it is a gold check is not said (honeypots are indistinguishable);
    in a training task the feedback after submitting shows how the work compared with the right answer."""

    item_name = serializers.CharField(source="item.name", read_only=True)
    layer = serializers.IntegerField(source="layer_id", read_only=True,
                                     help_text="The annotation layer to read and write for this unit.")
    recipe_version = serializers.IntegerField(source="task.recipe_version_id", read_only=True)
    feedback = serializers.SerializerMethodField()

    class Meta:
        model = WorkItem
        fields = ["id", "task", "item", "item_name", "stage", "slot", "state", "assignee", "lease_expires_at",
                  "attempts", "active_seconds", "version", "submitted_at", "layer", "recipe_version", "feedback"]
        read_only_fields = fields

    def get_feedback(self, unit) -> dict | None:
        if not (unit.is_gold and unit.task.is_training and unit.state == WorkItem.State.DONE):
            return None
        score = getattr(unit, "gold_score", None)
        return {"score": score.score, "details": score.details} if score else None


class UnitItemOutput(serializers.Serializer):
    """The unit's item as the studio opens it: what to draw on and where its layer is read and written."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    content_url = serializers.SerializerMethodField(help_text="The item's content (its holder may read it).")
    annotations_url = serializers.SerializerMethodField(help_text="The unit's layer of the item's annotations.")
    changes_url = serializers.SerializerMethodField()

    def get_content_url(self, item) -> str | None:
        return reverse("api:item-content", args=[item.pk]) if item.blob_id else None

    def get_annotations_url(self, item) -> str:
        return f"{reverse('api:item-annotations', args=[item.pk])}?layer={self.context['layer']}"

    def get_changes_url(self, item) -> str:
        return reverse("api:item-annotations-changes", args=[item.pk])


class WorkItemOpenOutput(WorkItemOutput):
    """A unit with what the studio needs to open it: its item and, to annotate, the model suggestions among the
    item's shared annotations (copied into the unit's layer when accepted)."""

    item_detail = serializers.SerializerMethodField()
    suggestions = serializers.SerializerMethodField()

    class Meta(WorkItemOutput.Meta):
        fields = [*WorkItemOutput.Meta.fields, "item_detail", "suggestions"]
        read_only_fields = fields

    def get_item_detail(self, unit) -> dict:
        return UnitItemOutput(unit.item, context={"layer": unit.layer_id}).data

    def get_suggestions(self, unit) -> list[dict]:
        from apps.workforce.selectors import unit_suggestions

        return unit_suggestions(unit=unit)


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class HeartbeatInput(serializers.Serializer):
    active_seconds = serializers.FloatField(min_value=0.001, max_value=120)


class CommentInput(serializers.Serializer):
    annotation_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    text = serializers.CharField(max_length=5000)


class ReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comments = CommentInput(many=True, required=False, default=list)


class MemberRefInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)


class ReassignInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1, allow_null=True, help_text="null: back to the open queue.")


class TaskMemberOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = TaskMember
        fields = ["id", "user", "email", "role", "weight", "status", "added_at"]
        read_only_fields = fields


class GoldInput(serializers.Serializer):
    item_id = serializers.IntegerField(min_value=1, help_text="Its current annotations become the right answer.")


class ReviewRoundOutput(serializers.ModelSerializer):
    reviewer = serializers.EmailField(source="reviewer.email", default=None, read_only=True)

    class Meta:
        model = ReviewRound
        fields = ["id", "number", "decision", "reviewer", "corrections", "decided_at"]
        read_only_fields = fields


class ReviewCommentOutput(serializers.ModelSerializer):
    """A review comment in its round: the latest rejection's comments are what to fix; earlier ones are history."""

    author = serializers.EmailField(source="author.email", default=None, read_only=True)
    round = ReviewRoundOutput(read_only=True, allow_null=True)

    class Meta:
        model = ReviewComment
        fields = ["id", "work_item", "round", "annotation_id", "author", "text", "created_at", "resolved_at"]
        read_only_fields = fields


class TaskItemsInput(serializers.Serializer):
    filter = serializers.JSONField(help_text="Query-language filter over the task's dataset.")


class TaskItemsRemoveInput(serializers.Serializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=10_000)
