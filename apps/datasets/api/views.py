from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apps.core.api.base import OrgApiView
from apps.core.api.errors import problem_response
from apps.core.api.pagination import IdCursorPagination
from apps.core.api.parsers import SafeJSONParser
from apps.datasets import intake, selectors, services
from apps.datasets.access import (
    access_dataset,
    access_import_job,
    access_item,
    access_item_content,
    access_saved_filter,
)
from apps.datasets.models import Dataset, ImportJob, Item, SavedFilter
from apps.datasets.retention import dataset_legal_hold_set

from .serializers import (
    BulkActionInput,
    DatasetInput,
    DatasetOutput,
    DatasetPatchInput,
    FolderInput,
    ImportJobOutput,
    ImportRowErrorOutput,
    ItemOutput,
    ItemPatchInput,
    ItemQueryInput,
    ItemUrlsInput,
    SavedFilterInput,
    SavedFilterOutput,
)


class DatasetListApi(OrgApiView):
    model = Dataset
    serializer_class = DatasetOutput
    required_scopes = {"GET": "org.view", "POST": "dataset.create"}

    def get(self, request):
        page = self.paginate_queryset(selectors.dataset_list(org=request.org, actor=request.user).select_related(
            "created_by"))
        return self.get_paginated_response(DatasetOutput(page, many=True).data)

    @extend_schema(request=DatasetInput, responses={201: DatasetOutput})
    def post(self, request):
        data = DatasetInput(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = services.dataset_create(org=request.org, actor=request.user, **data.validated_data)
        return Response(DatasetOutput(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(OrgApiView):
    model = Dataset
    serializer_class = DatasetOutput
    required_scopes = {"GET": "org.view", "PATCH": "org.view"}

    def get(self, request, pk):
        return Response(DatasetOutput(access_dataset(org=request.org, actor=request.user, dataset_id=pk)).data)

    @extend_schema(request=DatasetPatchInput, responses=DatasetOutput)
    def patch(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk)
        data = DatasetPatchInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        hold, reason = changes.pop("legal_hold", None), changes.pop("legal_hold_reason", None)
        with transaction.atomic():
            if changes:
                dataset = services.dataset_update(org=request.org, actor=request.user, dataset=dataset, **changes)
            if hold is not None or reason is not None:
                dataset = dataset_legal_hold_set(
                    org=request.org, actor=request.user, dataset=dataset,
                    on=dataset.legal_hold if hold is None else hold,
                    reason=dataset.legal_hold_reason if reason is None else reason)
        return Response(DatasetOutput(dataset).data)


class DatasetItemsApi(OrgApiView):
    """Adds items: multipart `files` (one or many), or JSON `{"urls": [...]}` fetched in the background."""

    model = Dataset
    serializer_class = ItemOutput
    parser_classes = [MultiPartParser, SafeJSONParser]
    required_scopes = {"POST": "org.view"}

    @extend_schema(request={"multipart/form-data": OpenApiTypes.OBJECT, "application/json": ItemUrlsInput},
                   responses={201: ItemOutput(many=True), 202: ImportJobOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.change")
        if request.content_type.startswith("multipart/"):
            items = intake.items_upload(
                org=request.org, actor=request.user, dataset=dataset, files=request.FILES.getlist("files"),
                folder=request.data.get("folder") or "/", kind=request.data.get("kind") or None,
            )
            return Response(ItemOutput(items, many=True).data, status=status.HTTP_201_CREATED)
        data = ItemUrlsInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = intake.urls_import_start(org=request.org, actor=request.user, dataset=dataset, **data.validated_data)
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class DatasetImportsApi(OrgApiView):
    """Starts a background import of a manifest (CSV or JSONL) or a zip archive (multipart `file`)."""

    model = Dataset
    serializer_class = ImportJobOutput
    parser_classes = [MultiPartParser]
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.change")
        page = self.paginate_queryset(selectors.import_job_list(dataset=dataset))
        return self.get_paginated_response(ImportJobOutput(page, many=True).data)

    @extend_schema(request={"multipart/form-data": OpenApiTypes.OBJECT}, responses={202: ImportJobOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.change")
        job = intake.import_start(
            org=request.org, actor=request.user, dataset=dataset, upload=request.FILES.get("file"),
            folder=request.data.get("folder") or "/",
        )
        return Response(ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ImportJobDetailApi(OrgApiView):
    model = ImportJob
    serializer_class = ImportJobOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        return Response(ImportJobOutput(access_import_job(org=request.org, actor=request.user, job_id=pk)).data)


class ImportRowCursorPagination(IdCursorPagination):
    ordering = ("row", "id")


class ImportJobErrorsApi(OrgApiView):
    """The import's per-row error report, in file order."""

    model = ImportJob
    serializer_class = ImportRowErrorOutput
    pagination_class = ImportRowCursorPagination
    required_scopes = {"GET": "org.view"}

    def get(self, request, pk):
        job = access_import_job(org=request.org, actor=request.user, job_id=pk)
        page = self.paginate_queryset(selectors.import_row_errors(job=job))
        return self.get_paginated_response(ImportRowErrorOutput(page, many=True).data)


class ItemQueryApi(OrgApiView):
    """One page of a dataset's items matching a query, with keyset pagination and a fast count."""

    model = Dataset
    serializer_class = ItemOutput
    pagination_class = None
    required_scopes = {"POST": "org.view"}

    @extend_schema(request=ItemQueryInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.view")
        data = ItemQueryInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = selectors.item_query(dataset=dataset, **data.validated_data)
        services.items_listed(org=request.org, actor=request.user, dataset=dataset,
                              item_ids=[item.pk for item in result.items])
        return Response({
            "results": ItemOutput(result.items, many=True).data,
            "next_cursor": result.next_cursor,
            "count": result.count,
            "count_exact": result.count_exact,
        })


class ItemBulkApi(OrgApiView):
    """Moves, sets metadata on, or deletes every item of the dataset that matches a query."""

    model = Dataset
    serializer_class = BulkActionInput
    pagination_class = None
    required_scopes = {"POST": "org.view"}

    @extend_schema(request=BulkActionInput, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.change")
        data = BulkActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["action"] == "delete":
            count, queued = services.items_bulk_delete(org=request.org, actor=request.user, dataset=dataset,
                                                       filter=v["filter"])
            return Response({"action": "delete", "count": count, "queued": queued},
                            status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)
        items = selectors.item_filter(dataset=dataset, filter=v["filter"])
        count = services.items_bulk_update(
            org=request.org, actor=request.user, dataset=dataset, items=items,
            folder=v.get("folder") if v["action"] == "move" else None,
            set_metadata=v.get("metadata") if v["action"] == "set_metadata" else None,
        )
        return Response({"action": v["action"], "count": count})


class DatasetFoldersApi(OrgApiView):
    model = Dataset
    serializer_class = FolderInput
    pagination_class = None
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.view")
        return Response({"folders": selectors.folder_paths(dataset=dataset)})

    @extend_schema(request=FolderInput, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.change")
        data = FolderInput(data=request.data)
        data.is_valid(raise_exception=True)
        folder = services.folder_create(org=request.org, actor=request.user, dataset=dataset,
                                        path=data.validated_data["path"])
        return Response({"path": folder.path}, status=status.HTTP_201_CREATED)


class SavedFilterListApi(OrgApiView):
    model = Dataset
    serializer_class = SavedFilterOutput
    required_scopes = {"GET": "org.view", "POST": "org.view"}

    def get(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.view")
        page = self.paginate_queryset(selectors.saved_filter_list(dataset=dataset))
        return self.get_paginated_response(SavedFilterOutput(page, many=True).data)

    @extend_schema(request=SavedFilterInput, responses={201: SavedFilterOutput})
    def post(self, request, pk):
        dataset = access_dataset(org=request.org, actor=request.user, dataset_id=pk, scope="item.view")
        data = SavedFilterInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.saved_filter_create(org=request.org, actor=request.user, dataset=dataset,
                                             **data.validated_data)
        return Response(SavedFilterOutput(saved).data, status=status.HTTP_201_CREATED)


class SavedFilterDetailApi(OrgApiView):
    model = SavedFilter
    serializer_class = SavedFilterOutput
    required_scopes = {"GET": "org.view", "DELETE": "org.view"}

    def get(self, request, pk):
        return Response(SavedFilterOutput(
            access_saved_filter(org=request.org, actor=request.user, saved_filter_id=pk)).data)

    def delete(self, request, pk):
        saved = access_saved_filter(org=request.org, actor=request.user, saved_filter_id=pk)
        services.saved_filter_delete(org=request.org, actor=request.user, saved_filter=saved)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ItemDetailApi(OrgApiView):
    model = Item
    serializer_class = ItemOutput
    required_scopes = {"GET": "org.view", "PATCH": "org.view", "DELETE": "org.view"}

    def get(self, request, pk):
        item = access_item(org=request.org, actor=request.user, item_id=pk)
        services.item_metadata_read(org=request.org, actor=request.user, item=item, via="api")
        return Response(ItemOutput(item).data)

    @extend_schema(request=ItemPatchInput, responses=ItemOutput)
    def patch(self, request, pk):
        item = access_item(org=request.org, actor=request.user, item_id=pk, scope="item.change")
        data = ItemPatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        item = services.item_update(org=request.org, actor=request.user, item=item, name=v.get("name"),
                                    folder=v.get("folder"), metadata_patch=v.get("metadata"))
        return Response(ItemOutput(item).data)

    def delete(self, request, pk):
        item = access_item(org=request.org, actor=request.user, item_id=pk, scope="item.change")
        services.item_delete(org=request.org, actor=request.user, item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ItemContentApi(OrgApiView):
    """The item's bytes, decrypted and streamed; `Range` supported; `?download=1` for an attachment."""

    model = Item
    serializer_class = ItemOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    @extend_schema(parameters=[OpenApiParameter("download", bool)], responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        # Readers of the dataset, and whoever a registered guard lets read this one item (a unit's holder).
        item, grant = access_item_content(org=request.org, actor=request.user, item_id=pk)
        download = request.query_params.get("download") in ("1", "true")
        return intake.serve_item_content(request, org=request.org, actor=request.user, item=item, download=download,
                                         grant=grant)


class ItemThumbnailApi(OrgApiView):
    model = Item
    serializer_class = ItemOutput
    pagination_class = None
    required_scopes = {"GET": "org.view"}

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, pk):
        item = access_item(org=request.org, actor=request.user, item_id=pk)
        if item.thumbnail_id is None:
            return problem_response(404, "This item has no thumbnail (yet): thumbnails are made for images.")
        services.item_thumbnail_read(org=request.org, actor=request.user, item=item)
        return intake.serve_item_thumbnail(request, item=item)

