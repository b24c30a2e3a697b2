"""Chunks (Dify "segments") of a document, and their child chunks (read-only)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam, NotFound
from apps.datasets import services
from apps.datasets.api import serializers as s
from apps.datasets.api.base import DatasetAPIView, paginate, query, validated
from apps.datasets.api.payloads import child_chunk_payload, segment_payload
from apps.datasets.models import ChildChunk, Document, Segment

TAG = ["Chunks"]
OBJ = {200: OpenApiTypes.OBJECT}


def _check_writable(document: Document) -> None:
    if document.indexing_status != Document.Status.COMPLETED:
        raise NotFound("Document is not completed.")
    if not document.enabled:
        raise NotFound("Document is disabled.")


class SegmentListView(DatasetAPIView):
    @extend_schema(
        tags=TAG,
        operation_id="list_segments",
        parameters=[s.SegmentListQuerySerializer],
        responses=OBJ,
    )
    def get(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        params = query(s.SegmentListQuerySerializer, request)
        qs = Segment.objects.for_workspace(self.workspace).filter(document=document)
        if params.get("status"):
            qs = qs.filter(status__in=params["status"])
        if params["keyword"]:
            qs = qs.filter(content__icontains=params["keyword"])
        qs = qs.select_related("hits").prefetch_related("child_chunks").order_by("position")
        items, meta = paginate(qs, page=params["page"], limit=params["limit"])
        return Response(
            {"data": [segment_payload(x) for x in items], "doc_form": document.doc_form, **meta}
        )

    @extend_schema(tags=TAG, request=s.SegmentCreateSerializer, responses=OBJ)
    def post(self, request: Request, dataset_id: Any, document_id: Any) -> Response:
        document = self.get_document(dataset_id, document_id)
        _check_writable(document)
        body = validated(s.SegmentCreateSerializer, request.data)
        if document.doc_form == "qa_model":
            for i, item in enumerate(body["segments"]):
                if not item.get("answer", "").strip():
                    raise InvalidParam(f"segments[{i}].answer: Answer is required.")
        with transaction.atomic():  # all segments or none
            created = [
                services.segment_create(
                    document=document,
                    content=item["content"],
                    answer=item.get("answer") or "",
                    keywords=item.get("keywords"),
                )
                for item in body["segments"]
            ]
        return Response(
            {"data": [segment_payload(x) for x in created], "doc_form": document.doc_form}
        )


class SegmentDetailView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any) -> Response:
        segment = self.get_segment(dataset_id, document_id, segment_id)
        return Response({"data": segment_payload(segment), "doc_form": segment.document.doc_form})

    @extend_schema(
        tags=TAG,
        operation_id="update_segment",
        request=s.SegmentUpdateSerializer,
        responses=OBJ,
    )
    def post(
        self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any
    ) -> Response:
        segment = self.get_segment(dataset_id, document_id, segment_id)
        _check_writable(segment.document)
        fields = validated(s.SegmentUpdateSerializer, request.data)["segment"]
        qa = segment.document.doc_form == "qa_model"
        if qa and "answer" in fields and not fields["answer"].strip():
            raise InvalidParam("segment.answer: Answer is required.")
        segment = services.segment_update(
            segment=segment,
            content=fields.get("content"),
            answer=fields.get("answer"),
            keywords=fields.get("keywords"),
            enabled=fields.get("enabled"),
        )
        return Response({"data": segment_payload(segment), "doc_form": segment.document.doc_form})

    @extend_schema(tags=TAG, responses={204: None})
    def delete(
        self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any
    ) -> Response:
        segment = self.get_segment(dataset_id, document_id, segment_id)
        services.segment_delete(segment=segment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChildChunkListView(DatasetAPIView):
    @extend_schema(tags=TAG, parameters=[s.PageQuerySerializer], responses=OBJ)
    def get(self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any) -> Response:
        segment = self.get_segment(dataset_id, document_id, segment_id)
        params = query(s.PageQuerySerializer, request)
        qs = ChildChunk.objects.for_workspace(self.workspace).filter(segment=segment)
        if params["keyword"]:
            qs = qs.filter(content__icontains=params["keyword"])
        items, meta = paginate(qs.order_by("position"), page=params["page"], limit=params["limit"])
        limit = params["limit"]
        return Response(
            {
                "data": [child_chunk_payload(c) for c in items],
                "total": meta["total"],
                "total_pages": (meta["total"] + limit - 1) // limit,
                "page": meta["page"],
                "limit": limit,
            }
        )
