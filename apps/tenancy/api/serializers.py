from rest_framework import serializers

from apps.tenancy.models import Invitation, Membership, Organization
from apps.tenancy.roles import Role


class OrganizationOutput(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "region", "mfa_required", "idle_logoff_minutes", "allowed_email_domains",
                  "created_at"]
        read_only_fields = fields


class OrganizationPolicyInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    mfa_required = serializers.BooleanField(required=False)
    idle_logoff_minutes = serializers.IntegerField(min_value=5, max_value=24 * 60, required=False)
    allowed_email_domains = serializers.ListField(
        child=serializers.RegexField(r"^@?[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", max_length=253), max_length=50,
        required=False,
    )


class MemberOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.display_name")
    user_id = serializers.IntegerField()

    class Meta:
        model = Membership
        fields = ["id", "user_id", "email", "name", "role", "created_at", "updated_at"]
        read_only_fields = fields


class MemberFilter(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationOutput(serializers.ModelSerializer):
    status = serializers.CharField()
    invited_by = serializers.EmailField(source="invited_by.email", default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields


class InvitationCreatedOutput(InvitationOutput):
    accept_url = serializers.CharField(help_text="Shown once: the link the invitee opens.")

    class Meta(InvitationOutput.Meta):
        fields = [*InvitationOutput.Meta.fields, "accept_url"]
        read_only_fields = fields


class InvitationInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class BreakGlassInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the elevation is needed (at least 20 characters).")
    minutes = serializers.IntegerField(help_text="How long it lasts, at most 240 minutes (4 hours).")
    role = serializers.CharField(max_length=32, required=False, default="admin",
                                 help_text="The role whose scopes are granted: admin, manager or compliance_officer.")


class BreakGlassOutput(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    is_active = serializers.SerializerMethodField()

    class Meta:
        from apps.tenancy.models import BreakGlass

        model = BreakGlass
        fields = ["id", "user", "email", "role", "reason", "started_at", "expires_at", "ended_at", "ended_by",
                  "is_active"]
        read_only_fields = fields

    def get_is_active(self, obj) -> bool:
        from django.utils import timezone

        return obj.is_active_at(timezone.now())
