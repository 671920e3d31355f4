from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.core.ids import parse_id
from apps.datasets import version_regeneration, version_services
from apps.datasets.access import access_dataset
from apps.datasets.models import Dataset, DatasetVersion
from apps.datasets.versions import DIFF_ID_LIMIT

from .serializers import DatasetVersionInput, DatasetVersionOutput


class DatasetVersionListApi(OrgApiView):
    """The dataset's versions, newest first; POST makes the next one (built in the background)."""

    model = Dataset
    serializer_class = DatasetVersionOutput
    required_scopes = {"GET": "org.view", "POST": "dataset.version"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.view")
        page = self.paginate_queryset(version_services.dataset_version_list(dataset=dataset))
        return self.get_paginated_response(DatasetVersionOutput(page, many=True).data)

    @extend_schema(request=DatasetVersionInput, responses={201: DatasetVersionOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="dataset.version")
        data = DatasetVersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = version_services.dataset_version_create(org=request.org, actor=request.user, dataset=dataset,
                                                          **data.validated_data)
        return Response(DatasetVersionOutput(version).data, status=status.HTTP_201_CREATED)


class DatasetVersionDetailApi(OrgApiView):
    model = DatasetVersion
    serializer_class = DatasetVersionOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        return Response(DatasetVersionOutput(
            version_services.access_dataset_version(org=request.org, actor=request.user, version_id=pk)).data)


class DatasetVersionRegenerateApi(OrgApiView):
    """Regenerates a withdrawn version (its files held erased data): the next version, built in the background from
    what the withdrawn one held minus what is no longer there, naming it in `regenerated_from`; its `notes` say
    what it was built from. 409 when the version is not withdrawn or was already regenerated."""

    model = DatasetVersion
    serializer_class = DatasetVersionOutput
    pagination_class = None
    required_scopes = {"POST": "dataset.version"}

    @extend_schema(request=None, responses={201: DatasetVersionOutput})
    def post(self, request, pk):
        version = version_services.access_dataset_version(org=request.org, actor=request.user, version_id=pk,
                                                          scope="dataset.version")
        regenerated = version_regeneration.dataset_version_regenerate(org=request.org, actor=request.user,
                                                                      version=version)
        return Response(DatasetVersionOutput(regenerated).data, status=status.HTTP_201_CREATED)


class DatasetVersionDiffApi(OrgApiView):
    """What changed from version `against` to this one: items and annotations added, removed and changed (counts
    and the first `limit` ids of each), which columns changed, and label counts before and after."""

    model = DatasetVersion
    serializer_class = DatasetVersionOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    @extend_schema(parameters=[OpenApiParameter("against", int, required=True),
                               OpenApiParameter("limit", int, description=f"ids per list (default {DIFF_ID_LIMIT}, "
                                                                          f"at most 1000)")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request, pk):
        version = version_services.access_dataset_version(org=request.org, actor=request.user, version_id=pk)
        against_id = parse_id(request.query_params.get("against"))
        if against_id is None:
            raise ValidationError({"against": "Name the version to compare with: ?against=<version id>."})
        against = version_services.access_dataset_version(org=request.org, actor=request.user, version_id=against_id)
        limit = parse_id(request.query_params.get("limit") or DIFF_ID_LIMIT)
        if limit is None:
            raise ValidationError({"limit": "A limit is a positive whole number."})
        return Response(version_services.dataset_version_diff(org=request.org, actor=request.user, version=version,
                                                              against=against, limit=limit))


class DatasetVersionDownloadApi(OrgApiView):
    """The version's files: a zip of every section's Parquet file with a version.json, or `?section=` one file."""

    model = DatasetVersion
    serializer_class = DatasetVersionOutput
    pagination_class = None
    required_scopes = {"GET": "dataset.version"}

    @extend_schema(parameters=[OpenApiParameter("section", str, description="items, annotations, ...")],
                   responses={(200, "application/zip"): OpenApiTypes.BINARY,
                              (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        version = version_services.access_dataset_version(org=request.org, actor=request.user, version_id=pk,
                                                          scope="dataset.version")
        return version_services.dataset_version_serve(request, org=request.org, actor=request.user, version=version,
                                                      section=request.query_params.get("section") or None)
