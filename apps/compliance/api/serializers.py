from rest_framework import serializers

from apps.compliance.models import AuditEvent


class AuditEventOutput(serializers.ModelSerializer):
    sequence = serializers.IntegerField(source="link.sequence", default=None, read_only=True,
                                        help_text="Place in the organisation's chain; null until sealed (a moment).")
    prev_hash = serializers.CharField(source="link.prev_hash", default=None, read_only=True)
    hash = serializers.CharField(source="link.hash", default=None, read_only=True)

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


class AuditExportQuery(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Start of the period (inclusive), ISO 8601.")
    until = serializers.DateTimeField(help_text="End of the period (exclusive), ISO 8601.")


class AuditSigningKeyOutput(serializers.Serializer):
    public_key_pem = serializers.CharField()
    fingerprint_sha256 = serializers.CharField(help_text="sha256 of the raw Ed25519 public key, in hex.")
    configured = serializers.BooleanField(help_text="False: embedded mode's derived key, which proves nothing.")
