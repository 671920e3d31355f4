from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.annotations import selectors, services
from apps.annotations.access import access_annotation, access_item_annotations
from apps.annotations.models import Annotation
from apps.core.api.base import OrgApiView
from apps.core.api.parsers import SafeJSONParser
from apps.datasets.access import access_item
from apps.datasets.models import Item
from apps.datasets.services import item_annotations_read

from .serializers import (
    AnnotationChangeInput,
    AnnotationChangeOutput,
    AnnotationInput,
    AnnotationOutput,
    AnnotationRevisionOutput,
)

LAYER = OpenApiParameter("layer", int, description="A unit of work's private layer; the shared annotations when "
                                                 "absent.")


def _expected_version(request) -> int | None:
    """The version a write is based on: the body's `version`, or an If-Match: "<version>" header."""
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if header.isdigit():
        return int(header)
    return None


def _layer_param(raw) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    if isinstance(raw, str) and raw.isdigit() and int(raw) > 0:
        return int(raw)
    raise ValidationError({"layer": "A layer is the id of a unit of work."})


def _frame_param(request) -> int | None:
    raw = request.query_params.get("frame")
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValidationError({"frame": "A frame is a whole number from 0."})
    return int(raw)


class ItemAnnotationsApi(OrgApiView):
    """An item's annotations (all of them: the studio draws them at once), and creating one or a list."""

    model = Item
    serializer_class = AnnotationOutput
    pagination_class = None
    parser_classes = [SafeJSONParser]
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    @extend_schema(parameters=[OpenApiParameter("frame", int), LAYER], responses=AnnotationOutput(many=True))
    def get(self, request, pk):
        layer = _layer_param(request.query_params.get("layer"))
        item = access_item_annotations(org=request.org, actor=request.user, item_id=pk, layer=layer)
        annotations = selectors.annotation_list(org=request.org, item=item, frame=_frame_param(request), layer=layer)
        item_annotations_read(org=request.org, actor=request.user, item=item, via="annotations")
        return Response(AnnotationOutput(annotations, many=True).data)

    @extend_schema(request=AnnotationInput, parameters=[LAYER], responses={201: AnnotationOutput})
    def post(self, request, pk):
        layer = _layer_param(request.query_params.get("layer"))
        item = access_item_annotations(org=request.org, actor=request.user, item_id=pk, layer=layer, write=True)
        many = isinstance(request.data, list)
        changeset = services.annotations_change(org=request.org, actor=request.user, item=item, layer=layer,
                                                create=request.data if many else [request.data], keyed=many)
        body = AnnotationOutput(changeset.created, many=True).data
        return Response(body if many else body[0], status=status.HTTP_201_CREATED)


class ItemAnnotationsChangeApi(OrgApiView):
    """Creates, updates and deletes an item's annotations in one all-or-nothing change (the studio's autosave)."""

    model = Item
    serializer_class = AnnotationChangeOutput
    pagination_class = None
    parser_classes = [SafeJSONParser]
    required_scopes = {"POST": "org.view"}

    @extend_schema(request=AnnotationChangeInput, responses=AnnotationChangeOutput)
    def post(self, request, pk):
        data = AnnotationChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        layer = _layer_param(values.pop("layer", None))
        item = access_item_annotations(org=request.org, actor=request.user, item_id=pk, layer=layer, write=True)
        changeset = services.annotations_change(org=request.org, actor=request.user, item=item, layer=layer,
                                                **values)
        return Response(AnnotationChangeOutput(changeset).data)


class ItemAnnotationHistoryApi(OrgApiView):
    model = Item
    serializer_class = AnnotationRevisionOutput
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        item = access_item(org=request.org, actor=request.user, item_id=pk, scope="annotation.view")
        item_annotations_read(org=request.org, actor=request.user, item=item, via="annotation history")
        page = self.paginate_queryset(selectors.item_annotation_history(org=request.org, item=item))
        return self.get_paginated_response(AnnotationRevisionOutput(page, many=True).data)


class AnnotationDetailApi(OrgApiView):
    model = Annotation
    serializer_class = AnnotationOutput
    pagination_class = None
    parser_classes = [SafeJSONParser]
    required_scopes = {"GET": "org.view", "PATCH": "org.view", "DELETE": "org.view"}

    def get(self, request, pk):
        annotation = access_annotation(org=request.org, actor=request.user, annotation_id=pk)
        item_annotations_read(org=request.org, actor=request.user, item=annotation.item, via="annotation")
        response = Response(AnnotationOutput(annotation).data)
        response["ETag"] = f'"{annotation.version}"'
        return response

    @extend_schema(request=AnnotationInput, responses=AnnotationOutput)
    def patch(self, request, pk):
        annotation = access_annotation(org=request.org, actor=request.user, annotation_id=pk,
                                       scope="annotation.change")
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": "Send the fields to change as a JSON object."})
        changes = dict(request.data)
        if "version" not in changes and _expected_version(request) is not None:
            changes["version"] = _expected_version(request)
        annotation = services.annotation_update(org=request.org, actor=request.user, annotation=annotation,
                                                changes=changes)
        response = Response(AnnotationOutput(annotation).data)
        response["ETag"] = f'"{annotation.version}"'
        return response

    @extend_schema(parameters=[OpenApiParameter("version", int, description="The version you read (or If-Match).")])
    def delete(self, request, pk):
        annotation = access_annotation(org=request.org, actor=request.user, annotation_id=pk,
                                       scope="annotation.change")
        raw = request.query_params.get("version")
        version = int(raw) if raw and raw.isdigit() else _expected_version(request)
        services.annotation_delete(org=request.org, actor=request.user, annotation=annotation, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationHistoryApi(OrgApiView):
    model = Annotation
    serializer_class = AnnotationRevisionOutput
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        annotation = access_annotation(org=request.org, actor=request.user, annotation_id=pk)
        item_annotations_read(org=request.org, actor=request.user, item=annotation.item, via="annotation history")
        page = self.paginate_queryset(selectors.annotation_history(org=request.org, annotation_id=annotation.pk))
        return self.get_paginated_response(AnnotationRevisionOutput(page, many=True).data)
