"""Document actions: batch status (enable/disable/archive/un_archive), retry, pause, resume."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import AppError, NotFound
from apps.datasets import services
from apps.datasets.api import serializers as s
from apps.datasets.api.base import DatasetAPIView, validated
from apps.datasets.api.payloads import document_payload
from apps.datasets.models import Document

TAG = ["Documents"]
OBJ = {200: OpenApiTypes.OBJECT}
STATUS_ACTIONS = ("enable", "disable", "archive", "un_archive")


class DocumentStatusView(DatasetAPIView):
    """``PATCH /datasets/{id}/documents/status/{action}`` with ``document_ids``."""

    @extend_schema(tags=TAG, request=s.DocumentStatusSerializer, responses=OBJ)
    def patch(self, request: Request, dataset_id: Any, action: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        if action not in STATUS_ACTIONS:
            raise AppError(f"Invalid action: {action}.", code="invalid_action", status=400)
        body = validated(s.DocumentStatusSerializer, request.data)
        ids = {str(i) for i in body["document_ids"]}
        documents = list(
            Document.objects.for_workspace(self.workspace).filter(dataset=dataset, pk__in=ids)
        )
        if len(documents) != len(ids):
            raise NotFound("Document not found.")
        services.documents_status_set(dataset=dataset, documents=documents, action=action)
        return Response({"result": "success"})


class _DocumentActionView(DatasetAPIView):
    def run(self, document: Document) -> Document:
        raise NotImplementedError

    @extend_schema(tags=TAG, request=None, responses=OBJ)
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.run(self.get_document(dataset_id, document_id))
        return Response({"result": "success", "document": document_payload(document)})

    @extend_schema(tags=TAG, request=None, responses=OBJ)
    def patch(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        return self.post(request, dataset_id, document_id)


class DocumentRetryView(_DocumentActionView):
    """Ours (Dify's console has ``POST /datasets/{id}/retry``): re-run a failed indexing."""

    def run(self, document: Document) -> Document:
        return services.document_retry(document=document)


class DocumentPauseView(_DocumentActionView):
    """Like Dify console's ``PATCH …/documents/{id}/processing/pause``."""

    def run(self, document: Document) -> Document:
        return services.document_pause(document=document)


class DocumentResumeView(_DocumentActionView):
    """Like Dify console's ``PATCH …/documents/{id}/processing/resume``."""

    def run(self, document: Document) -> Document:
        return services.document_resume(document=document)
