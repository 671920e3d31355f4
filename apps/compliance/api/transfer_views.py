"""Cross-region transfer bases: list and record them, revoke one."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.compliance import transfers
from apps.compliance.models import TransferBasis
from apps.core.api.base import OrgApiView


class TransferBasisInput(serializers.Serializer):
    destination_region = serializers.CharField(max_length=20)
    basis = serializers.ChoiceField(choices=TransferBasis.Basis.choices)
    reference = serializers.CharField(max_length=200)
    purpose = serializers.CharField(max_length=2000)
    valid_from = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                           help_text="Default now.")
    valid_until = serializers.DateTimeField()


class TransferBasisRevokeInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TransferBasisOutput(serializers.ModelSerializer):
    recorded_by = serializers.EmailField(source="recorded_by.email", default=None)
    revoked_by = serializers.EmailField(source="revoked_by.email", default=None)
    active = serializers.SerializerMethodField()

    class Meta:
        model = TransferBasis
        fields = ["id", "destination_region", "basis", "reference", "purpose", "valid_from", "valid_until",
                  "active", "recorded_by", "revoked_at", "revoked_by", "revoke_reason"]
        read_only_fields = fields

    def get_active(self, basis) -> bool:
        return basis.is_active()


class TransferBasisListApi(OrgApiView):
    """The organisation's recorded transfer bases, newest first; POST records one (audited)."""

    model = TransferBasis
    serializer_class = TransferBasisOutput
    required_scopes = {"GET": "audit.view", "POST": "transfer.manage"}

    def get(self, request):
        page = self.paginate_queryset(transfers.transfer_basis_list(org=request.org))
        return self.get_paginated_response(TransferBasisOutput(page, many=True).data)

    @extend_schema(request=TransferBasisInput, responses={201: TransferBasisOutput})
    def post(self, request):
        data = TransferBasisInput(data=request.data)
        data.is_valid(raise_exception=True)
        recorded = transfers.transfer_basis_record(org=request.org, actor=request.user, **data.validated_data)
        return Response(TransferBasisOutput(recorded).data, status=status.HTTP_201_CREATED)


class TransferBasisRevokeApi(OrgApiView):
    """Ends a basis now (409 when already revoked): storage refuses the region again."""

    model = TransferBasis
    serializer_class = TransferBasisOutput
    pagination_class = None
    required_scopes = {"POST": "transfer.manage"}

    @extend_schema(request=TransferBasisRevokeInput, responses=TransferBasisOutput)
    def post(self, request, pk):
        found = transfers.access_transfer_basis(org=request.org, actor=request.user, basis_id=pk)
        data = TransferBasisRevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        revoked = transfers.transfer_basis_revoke(org=request.org, actor=request.user, basis=found,
                                                  reason=data.validated_data["reason"])
        return Response(TransferBasisOutput(revoked).data)
