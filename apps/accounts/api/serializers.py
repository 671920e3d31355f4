from rest_framework import serializers

from apps.accounts.models import ApiToken
from apps.accounts.services import MAX_TOKEN_DAYS


class TokenOutput(serializers.ModelSerializer):
    user = serializers.EmailField(source="user.email")
    is_active = serializers.BooleanField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "key_id", "user", "created_at", "expires_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields


class TokenCreatedOutput(TokenOutput):
    token = serializers.CharField(help_text="Shown once. Send it as 'Authorization: Bearer <token>'.")

    class Meta(TokenOutput.Meta):
        fields = [*TokenOutput.Meta.fields, "token"]
        read_only_fields = fields


class TokenInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    days = serializers.IntegerField(min_value=1, max_value=MAX_TOKEN_DAYS, required=False, allow_null=True, default=90)
