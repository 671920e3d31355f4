from django.core.exceptions import ValidationError as DjangoValidationError
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
    target_type = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                        help_text="What the event is about, e.g. 'datasets.item'.")
    target_id = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                      help_text="With target_type: an item's history includes the listings that "
                                                "showed it, a dataset's the events about its items and exports.")
    actor_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                        help_text="The user id of who acted (their history).")
    dataset_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                          help_text="Events about this dataset, its items, exports and versions.")
    ip = serializers.CharField(required=False, allow_blank=True, max_length=64,
                               help_text="An IP address, or a network in CIDR form (e.g. 10.0.0.0/8).")

    def validate_ip(self, value):
        from apps.compliance.console import parse_ip_filter

        if not value.strip():
            return None
        try:
            return parse_ip_filter(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict["ip"]) from None

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError({"until": "The end is not after the start."})
        return attrs


class AuditExportQuery(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Start of the period (inclusive), ISO 8601.")
    until = serializers.DateTimeField(help_text="End of the period (exclusive), ISO 8601.")


class AuditSigningKeyOutput(serializers.Serializer):
    public_key_pem = serializers.CharField()
    fingerprint_sha256 = serializers.CharField(help_text="sha256 of the raw Ed25519 public key, in hex.")
    configured = serializers.BooleanField(help_text="False: embedded mode's derived key, which proves nothing.")


class ProcessorOutput(serializers.Serializer):
    name = serializers.CharField()
    purpose = serializers.CharField(default="")
    location = serializers.CharField(default="")
    region = serializers.CharField(default="", help_text="Empty: serves every region.")


class RegisterEntryOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The dataset's id.")
    name = serializers.CharField()
    classification = serializers.CharField()
    classification_label = serializers.CharField()
    purpose = serializers.CharField(help_text="Empty when the dataset states none.")
    subject_categories = serializers.ListField(
        child=serializers.CharField(), help_text="Categories of data subjects (GDPR art. 30(1)(c)); empty when "
                                                 "the dataset states none.")
    region = serializers.CharField()
    retention_days = serializers.IntegerField(allow_null=True, help_text="Null: kept until deleted.")
    processors = serializers.ListField(child=serializers.CharField())


class ProcessingRegisterOutput(serializers.Serializer):
    controller = serializers.CharField(help_text="The organisation.")
    region = serializers.CharField()
    processors = ProcessorOutput(many=True)
    datasets = RegisterEntryOutput(many=True)


class ResidencyLocationOutput(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    region = serializers.CharField(help_text='The region, or "primary" for the primary database.')
    where = serializers.CharField()
    objects = serializers.IntegerField(allow_null=True, help_text="Stored objects of this kind, where counted.")
    by_region = serializers.DictField(child=serializers.IntegerField(), help_text="Those objects per region.")


class ResidencyViolationOutput(serializers.Serializer):
    blob_id = serializers.IntegerField()
    region = serializers.CharField()
    created_at = serializers.DateTimeField()


class ResidencyTransferOutput(serializers.Serializer):
    basis_id = serializers.IntegerField()
    destination_region = serializers.CharField()
    basis = serializers.CharField()
    reference = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    active = serializers.BooleanField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    objects = serializers.IntegerField(help_text="Objects of the organisation stored in that region now.")


class ResidencyOutput(serializers.Serializer):
    organization = serializers.CharField()
    region = serializers.CharField()
    locations = ResidencyLocationOutput(many=True)
    blobs_by_region = serializers.DictField(child=serializers.IntegerField())
    violation_count = serializers.IntegerField(
        help_text="Stored objects outside the organisation's region without a current transfer basis.")
    violations = ResidencyViolationOutput(many=True, help_text="The first of them.")
    transfers = ResidencyTransferOutput(many=True, help_text="Recorded legal bases for copies in other regions.")
