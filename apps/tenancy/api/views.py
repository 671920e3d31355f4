from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.tenancy import selectors, services
from apps.tenancy.access import access_break_glass, access_invitation, access_membership
from apps.tenancy.models import BreakGlass, Invitation, Membership, Organization

from .serializers import (
    BreakGlassInput,
    BreakGlassOutput,
    InvitationCreatedOutput,
    InvitationInput,
    InvitationOutput,
    MemberFilter,
    MemberOutput,
    MemberRoleInput,
    OrganizationOutput,
    OrganizationPolicyInput,
)


class OrganizationCurrentApi(OrgApiView):
    """The organisation the caller is acting in (from their token or session)."""

    model = Organization
    serializer_class = OrganizationOutput
    pagination_class = None
    required_scopes = {"GET": "org.view", "PATCH": "org.manage"}

    def get(self, request):
        return Response(OrganizationOutput(request.org).data)

    @extend_schema(request=OrganizationPolicyInput, responses=OrganizationOutput)
    def patch(self, request):
        data = OrganizationPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.organization_update_policies(org=request.org, actor=request.user, **data.validated_data)
        return Response(OrganizationOutput(org).data)


class MemberListApi(OrgApiView):
    model = Membership
    serializer_class = MemberOutput
    required_scopes = {"GET": "member.view"}

    @extend_schema(parameters=[MemberFilter])
    def get(self, request):
        filters = MemberFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.membership_list(org=request.org, actor=request.user, role=filters.validated_data.get("role", ""))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MemberOutput(page, many=True).data)


class MemberDetailApi(OrgApiView):
    model = Membership
    serializer_class = MemberOutput
    required_scopes = {"GET": "member.view", "PATCH": "member.change_role", "DELETE": "member.remove"}

    def get(self, request, pk):
        membership = access_membership(org=request.org, actor=request.user, membership_id=pk)
        return Response(MemberOutput(membership).data)

    @extend_schema(request=MemberRoleInput, responses=MemberOutput)
    def patch(self, request, pk):
        membership = access_membership(org=request.org, actor=request.user, membership_id=pk)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            org=request.org, actor=request.user, membership=membership, role=data.validated_data["role"]
        )
        return Response(MemberOutput(membership).data)

    def delete(self, request, pk):
        membership = access_membership(org=request.org, actor=request.user, membership_id=pk)
        services.membership_remove(org=request.org, actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(OrgApiView):
    model = Invitation
    serializer_class = InvitationOutput
    required_scopes = {"GET": "member.invite", "POST": "member.invite"}

    def get(self, request):
        qs = selectors.invitation_list(org=request.org, actor=request.user)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(InvitationOutput(page, many=True).data)

    @extend_schema(request=InvitationInput, responses={201: InvitationCreatedOutput})
    def post(self, request):
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, url = services.invitation_create(org=request.org, actor=request.user, **data.validated_data)
        invitation.accept_url = url
        return Response(InvitationCreatedOutput(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailApi(OrgApiView):
    model = Invitation
    serializer_class = InvitationOutput
    required_scopes = {"GET": "member.invite", "DELETE": "member.invite"}

    def get(self, request, pk):
        return Response(InvitationOutput(access_invitation(org=request.org, actor=request.user, invitation_id=pk)).data)

    @extend_schema(description="Revokes a pending invitation; its link stops working.")
    def delete(self, request, pk):
        invitation = access_invitation(org=request.org, actor=request.user, invitation_id=pk)
        services.invitation_revoke(org=request.org, actor=request.user, invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BreakGlassListApi(OrgApiView):
    """Break-glass elevations: owners and compliance officers see all, anyone else their own."""

    model = BreakGlass
    serializer_class = BreakGlassOutput
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request):
        page = self.paginate_queryset(selectors.break_glass_list(org=request.org, actor=request.user))
        return self.get_paginated_response(BreakGlassOutput(page, many=True).data)

    @extend_schema(request=BreakGlassInput, responses={201: BreakGlassOutput},
                   description="Opens a time-limited elevation (reason of 20+ characters, at most 4 hours); "
                               "compliance officers are alerted and every audit event meanwhile is tagged.")
    def post(self, request):
        data = BreakGlassInput(data=request.data)
        data.is_valid(raise_exception=True)
        elevation = services.break_glass_open(org=request.org, actor=request.user, **data.validated_data)
        return Response(BreakGlassOutput(elevation).data, status=status.HTTP_201_CREATED)


class BreakGlassDetailApi(OrgApiView):
    model = BreakGlass
    serializer_class = BreakGlassOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        return Response(BreakGlassOutput(access_break_glass(org=request.org, actor=request.user,
                                                            break_glass_id=pk)).data)


class BreakGlassEndApi(OrgApiView):
    model = BreakGlass
    serializer_class = BreakGlassOutput
    pagination_class = None
    required_scopes = {"POST": "org.view"}

    @extend_schema(request=None, responses=BreakGlassOutput, description="Ends the elevation now.")
    def post(self, request, pk):
        elevation = access_break_glass(org=request.org, actor=request.user, break_glass_id=pk)
        elevation = services.break_glass_end(org=request.org, actor=request.user, elevation=elevation)
        return Response(BreakGlassOutput(elevation).data)
