from rest_framework import serializers

from apps.quality.models import QualityThreshold


class ThresholdInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=QualityThreshold.Action.choices)
    min_score = serializers.FloatField(min_value=0, max_value=1)
    min_samples = serializers.IntegerField(min_value=1, max_value=10_000, default=10)


class PolicyInput(serializers.Serializer):
    window_units = serializers.IntegerField(min_value=1, max_value=10_000, default=50)
    window_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True,
                                           default=None)
    thresholds = ThresholdInput(many=True, required=False, default=list)


class ThresholdOutput(serializers.Serializer):
    action = serializers.CharField()
    min_score = serializers.FloatField()
    min_samples = serializers.IntegerField()


class ComponentGold(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    samples = serializers.IntegerField()


class ComponentReview(serializers.Serializer):
    approval_rate = serializers.FloatField(allow_null=True)
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()


class ScoreOutput(serializers.Serializer):
    user_id = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True, help_text="Mean of the samples in the window (scores.py).")
    samples = serializers.IntegerField(help_text="How many samples the score rests on.")
    low = serializers.FloatField(allow_null=True, help_text="Wilson 95 % interval, lower bound.")
    high = serializers.FloatField(allow_null=True, help_text="Wilson 95 % interval, upper bound.")
    gold = ComponentGold()
    review = ComponentReview()
    consensus = ComponentGold()
    last_at = serializers.DateTimeField(allow_null=True)


class MemberScoreOutput(ScoreOutput):
    email = serializers.EmailField()
    member_status = serializers.CharField()


class TaskQualityOutput(serializers.Serializer):
    window_units = serializers.IntegerField()
    window_days = serializers.IntegerField(allow_null=True)
    thresholds = ThresholdOutput(many=True)
    results = MemberScoreOutput(many=True)


class PolicyOutput(serializers.Serializer):
    window_units = serializers.IntegerField()
    window_days = serializers.IntegerField(allow_null=True)
    thresholds = ThresholdOutput(many=True)


class TaskScoreOutput(ScoreOutput):
    task_id = serializers.IntegerField()
    task_name = serializers.CharField()


class OwnQualityOutput(serializers.Serializer):
    overall = ScoreOutput()
    tasks = TaskScoreOutput(many=True)
