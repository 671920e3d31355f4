from rest_framework import serializers

from apps.compliance.models import AuditEvent


class AuditEventOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "sequence", "occurred_at", "actor_type", "actor_user", "actor_token_id", "actor_label", "action",
            "target_type", "target_id", "target_label", "before", "after", "metadata", "ip", "user_agent",
            "request_id", "prev_hash", "hash",
        ]
        read_only_fields = fields


class AuditEventFilter(serializers.Serializer):
    actor = serializers.CharField(required=False, allow_blank=True, max_length=254, help_text="Actor email.")
    action = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                   help_text="An action, or a prefix ending in '.' (e.g. 'member.').")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    target_type = serializers.CharField(required=False, allow_blank=True, max_length=100)
    target_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
