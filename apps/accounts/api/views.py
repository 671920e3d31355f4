from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.accounts import selectors, services
from apps.accounts.access import access_token
from apps.accounts.models import ApiToken
from apps.core.api.base import OrgApiView

from .serializers import TokenCreatedOutput, TokenInput, TokenOutput


class TokenListApi(OrgApiView):
    model = ApiToken
    serializer_class = TokenOutput
    required_scopes = {"GET": "token.manage_own", "POST": "token.manage_own"}

    def get(self, request):
        page = self.paginate_queryset(selectors.token_list(org=request.org, actor=request.user))
        return self.get_paginated_response(TokenOutput(page, many=True).data)

    @extend_schema(request=TokenInput, responses={201: TokenCreatedOutput})
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.token_create(org=request.org, actor=request.user, **data.validated_data)
        token.token = raw
        return Response(TokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)


class TokenDetailApi(OrgApiView):
    model = ApiToken
    serializer_class = TokenOutput
    required_scopes = {"GET": "token.manage_own", "DELETE": "token.manage_own"}

    def get(self, request, pk):
        return Response(TokenOutput(access_token(org=request.org, actor=request.user, token_id=pk)).data)

    @extend_schema(description="Revokes the token at once.")
    def delete(self, request, pk):
        token = access_token(org=request.org, actor=request.user, token_id=pk)
        services.token_revoke(org=request.org, actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
