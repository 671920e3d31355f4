from rest_framework import serializers

from apps.performance.downloads import FORMATS
from apps.performance.reports import GROUPS, STAGES

FORMAT_CHOICES = ("json", *FORMATS)


def _query_fields(groups, default_group):
    return {
        "group": serializers.ChoiceField(choices=groups, default=default_group),
        "stage": serializers.ChoiceField(choices=STAGES, default="annotate",
                                         help_text="For the task and day groups: which units (annotator and "
                                                   "reviewer imply annotate and review)."),
        "format": serializers.ChoiceField(choices=FORMAT_CHOICES, default="json"),
        "from": serializers.DateField(required=False, help_text="First UTC day included."),
        "to": serializers.DateField(required=False, help_text="Last UTC day included."),
    }


class _QueryBase(serializers.Serializer):
    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": "The last day comes before the first."})
        return attrs


TaskReportQuery = type("TaskReportQuery", (_QueryBase,), _query_fields(GROUPS, "annotator"))
OrgReportQuery = type("OrgReportQuery", (_QueryBase,), _query_fields(GROUPS, "task"))
OwnReportQuery = type("OwnReportQuery", (_QueryBase,), _query_fields(("task", "day"), "task"))


class MemberRateInput(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)
    role = serializers.ChoiceField(choices=("annotator", "reviewer"))
    hourly_rate = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, allow_null=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, default="",
                                      error_messages={"invalid": "An ISO 4217 code of three letters, e.g. EUR."})

    def validate(self, attrs):
        if attrs["hourly_rate"] is not None and not attrs.get("currency"):
            raise serializers.ValidationError({"currency": "Name the currency of the rate, e.g. EUR."})
        return attrs


class MemberRateOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    role = serializers.CharField()
    hourly_rate = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
