"""Documents of a dataset: create/update by text or file, list, detail, status, progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import AppError, NotFound
from apps.datasets import selectors, services
from apps.datasets.api import serializers as s
from apps.datasets.api.base import DatasetAPIView, json_data_field, paginate, query, validated
from apps.datasets.api.payloads import document_payload, indexing_status_payload
from apps.datasets.models import Dataset, Document

TAG = ["Documents"]
OBJ = {200: OpenApiTypes.OBJECT}
DEFAULT_UPLOAD_MAX_BYTES = 15 * 1024 * 1024
_RUNNING = ["parsing", "cleaning", "splitting", "indexing"]
STATUS_FILTERS: dict[str, Q] = {
    "queuing": Q(indexing_status="waiting", is_paused=False),
    "indexing": Q(indexing_status__in=_RUNNING, is_paused=False),
    "paused": Q(is_paused=True) | Q(indexing_status="paused"),
    "error": Q(indexing_status="error"),
    "available": Q(indexing_status="completed", enabled=True, archived=False),
    "disabled": Q(indexing_status="completed", enabled=False, archived=False),
    "archived": Q(indexing_status="completed", archived=True),
}


def _created(document: Document) -> Response:
    return Response({"document": document_payload(document), "batch": document.batch})


def _uploaded_file(request: Request) -> tuple[str, bytes, str]:
    """The single ``file`` part of a multipart request, checked the way Dify does."""
    files = request.FILES
    if "file" not in files:
        raise AppError("No file uploaded.", code="no_file_uploaded", status=400)
    if len(files) > 1 or len(files.getlist("file")) > 1:
        raise AppError("Only one file is allowed.", code="too_many_files", status=400)
    upload = files["file"]
    if not upload.name:
        raise AppError("Filename is missing.", code="filename_not_exists_error", status=400)
    limit = getattr(settings, "DATASET_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES)
    if upload.size is not None and upload.size > limit:
        raise AppError(
            f"File size exceeded. {upload.size} > {limit} bytes.",
            code="file_too_large",
            status=413,
        )
    if not upload.size:
        raise AppError("The uploaded file is empty.", code="no_file_uploaded", status=400)
    return upload.name, upload.read(), upload.content_type or ""


def _create_in(
    dataset: Dataset, body: dict[str, Any], create: Callable[[Dataset], Document]
) -> Document:
    """Create a document; a request for a still-empty dataset may also set the dataset's
    indexing options (as in Dify, where the first document decides them) — both or neither."""
    keys = ("indexing_technique", "embedding_model", "embedding_model_provider")
    changes: dict[str, Any] = {k: body[k] for k in keys if body.get(k)}
    if body.get("retrieval_model"):
        changes["retrieval_model"] = {**(dataset.retrieval_model or {}), **body["retrieval_model"]}
    changes = {k: v for k, v in changes.items() if getattr(dataset, k) != v}
    if not changes or Document.objects.filter(dataset=dataset).exists():
        return create(dataset)
    with transaction.atomic():
        return create(services.dataset_update(dataset=dataset, **changes))


class DocumentCreateByTextView(DatasetAPIView):
    @extend_schema(tags=TAG, request=s.DocumentCreateByTextSerializer, responses=OBJ)
    def post(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.DocumentCreateByTextSerializer, request.data)
        document = _create_in(
            dataset,
            body,
            lambda ds: services.document_create_from_text(
                dataset=ds,
                name=body["name"],
                text=body["text"],
                process_rule=body.get("process_rule"),
                doc_form=body.get("doc_form"),
                doc_language=body.get("doc_language") or "",
            ),
        )
        return _created(document)


class DocumentCreateByFileView(DatasetAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAG, request={"multipart/form-data": s.FileUploadSerializer}, responses=OBJ)
    def post(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.DocumentCreateByFileDataSerializer, json_data_field(request))
        filename, content, mime_type = _uploaded_file(request)
        document = _create_in(
            dataset,
            body,
            lambda ds: services.document_create_from_file(
                dataset=ds,
                filename=filename,
                content=content,
                mime_type=mime_type,
                process_rule=body.get("process_rule"),
                doc_form=body.get("doc_form"),
            ),
        )
        return _created(document)


class DocumentUpdateByTextView(DatasetAPIView):
    @extend_schema(tags=TAG, request=s.DocumentUpdateByTextSerializer, responses=OBJ)
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        body = validated(s.DocumentUpdateByTextSerializer, request.data)
        document = services.document_update_text(
            document=document,
            name=body.get("name"),
            text=body.get("text"),
            process_rule=body.get("process_rule"),
        )
        return _created(document)


class DocumentUpdateByFileView(DatasetAPIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAG, request={"multipart/form-data": s.FileUploadSerializer}, responses=OBJ)
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        body = validated(s.DocumentUpdateByFileDataSerializer, json_data_field(request))
        filename, content, mime_type = _uploaded_file(request)
        document = services.document_update_file(
            document=document,
            filename=filename,
            content=content,
            mime_type=mime_type,
            process_rule=body.get("process_rule"),
        )
        return _created(document)


class DocumentListView(DatasetAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="list_documents",
        parameters=[s.DocumentListQuerySerializer],
        responses=OBJ,
    )
    def get(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        params = query(s.DocumentListQuerySerializer, request)
        qs = Document.objects.for_workspace(self.workspace).filter(dataset=dataset)
        if params["keyword"]:
            qs = qs.filter(name__icontains=params["keyword"])
        if params.get("status"):
            qs = qs.filter(STATUS_FILTERS[params["status"]])
        qs = qs.select_related("dataset").order_by("-created_at", "-position")
        items, meta = paginate(qs, page=params["page"], limit=params["limit"])
        fields = list(dataset.metadata_fields.all())
        return Response({"data": [document_payload(d, fields=fields) for d in items], **meta})


class DocumentDetailView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        data = document_payload(document, detail=True)
        metadata = request.query_params.get("metadata", "all")
        if metadata == "only":
            return Response(
                {"id": data["id"], "doc_type": None, "doc_metadata": data["doc_metadata"]}
            )
        if metadata == "without":
            data.pop("doc_metadata")
        return Response(data)

    @extend_schema(tags=TAG, responses={204: None})
    def delete(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        if document.archived:
            raise AppError(
                "The archived document is not editable.",
                code="archived_document_immutable",
                status=403,
            )
        services.document_delete(document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IndexingStatusView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any, batch: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        documents = selectors.documents_of_batch(dataset=dataset, batch=batch).annotate(
            api_total_segments=Count("segments"),
            api_completed_segments=Count("segments", filter=Q(segments__status="completed")),
        )
        data = [indexing_status_payload(d) for d in documents]
        if not data:
            raise NotFound("Documents not found.")
        return Response({"data": data})
