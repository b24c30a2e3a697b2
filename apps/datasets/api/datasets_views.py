"""``/v1/datasets`` and ``/v1/datasets/{id}`` (+ ``/retrieve``): Dify's Knowledge Bases."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, Sum
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.datasets import retrieval, selectors, services
from apps.datasets.api import serializers as s
from apps.datasets.api.base import DatasetAPIView, paginate, query, validated
from apps.datasets.api.payloads import child_chunk_payload, dataset_payload, segment_payload
from apps.datasets.models import Document, MetadataField

TAG = ["Knowledge Bases"]
OBJ = {200: OpenApiTypes.OBJECT}


def _with_counts(qs: Any) -> Any:
    available = Q(
        documents__indexing_status=Document.Status.COMPLETED,
        documents__enabled=True,
        documents__archived=False,
    )
    return qs.annotate(
        api_document_count=Count("documents", distinct=True),
        api_word_count=Sum("documents__word_count"),
        api_available_count=Count("documents", filter=available, distinct=True),
    ).prefetch_related(Prefetch("metadata_fields", queryset=MetadataField.objects.all()))


def _retrieval_model(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if not data:
        return None
    model = dict(data)
    if model.get("reranking_model") is not None:
        model["reranking_model"] = dict(model["reranking_model"])
    return model


class DatasetListView(DatasetAPIView):
    @extend_schema(
        tags=TAG, operation_id="list_datasets", parameters=[s.PageQuerySerializer], responses=OBJ
    )
    def get(self, request: Request) -> Response:
        params = query(s.PageQuerySerializer, request)
        qs = selectors.datasets_list(workspace=self.workspace, keyword=params["keyword"] or None)
        items, meta = paginate(_with_counts(qs), page=params["page"], limit=params["limit"])
        return Response({"data": [dataset_payload(d) for d in items], **meta})

    @extend_schema(tags=TAG, request=s.DatasetCreateSerializer, responses=OBJ)
    def post(self, request: Request) -> Response:
        body = validated(s.DatasetCreateSerializer, request.data)
        dataset = services.dataset_create(
            workspace=self.workspace,
            name=body["name"],
            description=body["description"],
            indexing_technique=body.get("indexing_technique"),
            permission=body["permission"],
            embedding_model_provider=body.get("embedding_model_provider") or None,
            embedding_model=body.get("embedding_model") or None,
            retrieval_model=_retrieval_model(body.get("retrieval_model")),
        )
        return Response(dataset_payload(dataset))


class DatasetDetailView(DatasetAPIView):
    @extend_schema(tags=TAG, responses=OBJ)
    def get(self, request: Request, dataset_id: Any) -> Response:
        return Response(dataset_payload(self.get_dataset(dataset_id)))

    @extend_schema(tags=TAG, request=s.DatasetUpdateSerializer, responses=OBJ)
    def patch(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.DatasetUpdateSerializer, request.data)
        body.pop("partial_member_list", None)
        if "retrieval_model" in body:
            merged = {
                **(dataset.retrieval_model or {}),
                **(_retrieval_model(body["retrieval_model"]) or {}),
            }
            body["retrieval_model"] = merged
        if body:
            dataset = services.dataset_update(dataset=dataset, **body)
        return Response(dataset_payload(dataset))

    @extend_schema(tags=TAG, responses={204: None})
    def delete(self, request: Request, dataset_id: Any) -> Response:
        services.dataset_delete(dataset=self.get_dataset(dataset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RetrieveView(DatasetAPIView):
    """``POST /datasets/{id}/retrieve``: Dify's hit testing over one dataset."""

    @extend_schema(tags=TAG, request=s.RetrieveSerializer, responses=OBJ)
    def post(self, request: Request, dataset_id: Any) -> Response:
        dataset = self.get_dataset(dataset_id)
        body = validated(s.RetrieveSerializer, request.data)
        model = _retrieval_model(body.get("retrieval_model"))
        metadata_filter = model.pop("metadata_filtering_conditions", None) if model else None
        chunks = retrieval.retrieve(
            workspace=self.workspace,
            dataset_ids=[str(dataset.id)],
            query=body["query"],
            retrieval_model=model,
            metadata_filter=metadata_filter or None,
            source="api",
        )
        records = []
        for chunk in chunks:
            segment = segment_payload(chunk.segment, with_children=False)
            document = chunk.segment.document
            segment["document"] = {
                "id": str(document.id),
                "data_source_type": document.data_source_type,
                "name": document.name,
                "doc_type": None,
                "doc_metadata": document.doc_metadata or None,
            }
            records.append(
                {
                    "segment": segment,
                    "child_chunks": [
                        child_chunk_payload(c, score) for c, score in chunk.child_chunks
                    ],
                    "score": chunk.score,
                    "tsne_position": None,
                    "files": [],
                    "summary": None,
                }
            )
        return Response({"query": {"content": body["query"]}, "records": records})
