"""Response bodies of the Knowledge API in Dify's shapes (timestamps in UNIX seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Sum

from apps.datasets.models import (
    ChildChunk,
    Dataset,
    Document,
    MetadataField,
    Segment,
    SegmentHit,
)

DEFAULT_RETRIEVAL_MODEL: dict[str, Any] = {
    "search_method": "semantic_search",
    "reranking_enable": False,
    "reranking_mode": None,
    "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
    "weights": None,
    "top_k": 2,
    "score_threshold_enabled": False,
    "score_threshold": None,
}

BUILT_IN_FIELDS: list[dict[str, str]] = [
    {"name": "document_name", "type": "string"},
    {"name": "uploader", "type": "string"},
    {"name": "upload_date", "type": "time"},
    {"name": "last_update_date", "type": "time"},
    {"name": "source", "type": "string"},
]


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def retrieval_model_dict(dataset: Dataset) -> dict[str, Any]:
    return {**DEFAULT_RETRIEVAL_MODEL, **(dataset.retrieval_model or {})}


def metadata_field_payload(field: MetadataField) -> dict[str, Any]:
    return {"id": str(field.id), "name": field.name, "type": field.type}


def dataset_payload(dataset: Dataset) -> dict[str, Any]:
    """``dataset`` may carry the ``document_count``/``word_count``/``available_count``
    annotations of ``selectors``-style list queries; otherwise they are counted here."""
    document_count = getattr(dataset, "api_document_count", None)
    if document_count is None:
        docs = Document.objects.filter(dataset=dataset)
        document_count = docs.count()
        word_count = sum(docs.values_list("word_count", flat=True))
        available = docs.filter(
            indexing_status=Document.Status.COMPLETED, enabled=True, archived=False
        ).count()
    else:
        word_count = getattr(dataset, "api_word_count", 0) or 0
        available = getattr(dataset, "api_available_count", 0) or 0
    fields = list(dataset.metadata_fields.all())
    high_quality = dataset.indexing_technique == Dataset.IndexingTechnique.HIGH_QUALITY
    return {
        "id": str(dataset.id),
        "name": dataset.name,
        "description": dataset.description,
        "provider": dataset.provider,
        "permission": dataset.permission,
        "data_source_type": dataset.data_source_type or None,
        "indexing_technique": dataset.indexing_technique,
        "app_count": 0,
        "document_count": document_count,
        "word_count": word_count,
        "created_by": _id(dataset.created_by_id),
        "author_name": None,
        "created_at": ts(dataset.created_at),
        "updated_by": None,
        "updated_at": ts(dataset.updated_at),
        "embedding_model": dataset.embedding_model or None,
        "embedding_model_provider": dataset.embedding_model_provider or None,
        "embedding_available": bool(dataset.embedding_model) if high_quality else True,
        "retrieval_model_dict": retrieval_model_dict(dataset),
        "summary_index_setting": None,
        "tags": [],
        "doc_form": dataset.doc_form,
        "external_knowledge_info": None,
        "external_retrieval_model": None,
        "doc_metadata": [metadata_field_payload(f) for f in fields],
        "built_in_field_enabled": dataset.built_in_field_enabled,
        "pipeline_id": None,
        "runtime_mode": "general",
        "chunk_structure": None,
        "icon_info": None,
        "is_published": False,
        "total_documents": document_count,
        "total_available_documents": available,
        "enable_api": True,
        "is_multimodal": False,
        "maintainer": None,
        "partial_member_list": [],
    }


def display_status(document: Document) -> str:
    status = document.indexing_status
    if status == Document.Status.WAITING and not document.is_paused:
        return "queuing"
    if document.is_paused or status == Document.Status.PAUSED:
        return "paused"
    if status == Document.Status.ERROR:
        return "error"
    if status != Document.Status.COMPLETED:
        return "indexing"
    if document.archived:
        return "archived"
    return "available" if document.enabled else "disabled"


def document_metadata_list(
    document: Document, fields: list[MetadataField], built_in: bool
) -> list[dict[str, Any]]:
    values = document.doc_metadata or {}
    items = [
        {**metadata_field_payload(f), "value": values[f.name]} for f in fields if f.name in values
    ]
    if built_in:
        computed = {
            "document_name": document.name,
            "uploader": _id(document.created_by_id) or "",
            "upload_date": ts(document.created_at),
            "last_update_date": ts(document.updated_at),
            "source": document.data_source_type,
        }
        items += [
            {"id": "built-in", **b, "value": values.get(b["name"], computed[b["name"]])}
            for b in BUILT_IN_FIELDS
        ]
    return items


def document_payload(
    document: Document, *, fields: list[MetadataField] | None = None, detail: bool = False
) -> dict[str, Any]:
    dataset = document.dataset
    if fields is None:
        fields = list(dataset.metadata_fields.all())
    source_info: dict[str, Any] = {}
    if document.data_source_type == "upload_file":
        source_info = {
            "upload_file_id": str(document.id),
            "upload_file": {
                "id": str(document.id),
                "name": document.name,
                "size": document.file_size,
                "extension": document.file_extension,
                "mime_type": document.mime_type,
            },
        }
    elif document.source_url:
        source_info = {"url": document.source_url}
    data: dict[str, Any] = {
        "id": str(document.id),
        "position": document.position,
        "data_source_type": document.data_source_type,
        "data_source_info": source_info,
        "data_source_detail_dict": source_info,
        "dataset_process_rule_id": None,
        "name": document.name,
        "created_from": document.created_from,
        "created_by": _id(document.created_by_id),
        "created_at": ts(document.created_at),
        "tokens": document.tokens,
        "indexing_status": document.indexing_status,
        "error": document.error or None,
        "enabled": document.enabled,
        "disabled_at": None,
        "disabled_by": None,
        "archived": document.archived,
        "display_status": display_status(document),
        "word_count": document.word_count,
        "hit_count": 0,
        "doc_form": document.doc_form,
        "doc_metadata": document_metadata_list(document, fields, dataset.built_in_field_enabled),
        "summary_index_status": None,
        "need_summary": False,
    }
    if detail:
        segments = Segment.objects.filter(document=document)
        count = segments.count()
        data.update(
            {
                "dataset_process_rule": {},
                "document_process_rule": document.process_rule or {},
                "doc_language": document.doc_language,
                "doc_type": None,
                "completed_at": ts(document.completed_at),
                "updated_at": ts(document.updated_at),
                "indexing_latency": document.indexing_latency,
                "segment_count": count,
                "average_segment_length": (document.word_count / count) if count else 0,
                "hit_count": SegmentHit.objects.filter(segment__document=document).aggregate(
                    total=Sum("hit_count")
                )["total"]
                or 0,
            }
        )
    return data


def indexing_status_payload(document: Document) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "indexing_status": document.indexing_status,
        "processing_started_at": ts(document.processing_started_at),
        "parsing_completed_at": ts(document.parsing_completed_at),
        "cleaning_completed_at": ts(document.cleaning_completed_at),
        "splitting_completed_at": ts(document.splitting_completed_at),
        "completed_at": ts(document.completed_at),
        "paused_at": ts(document.paused_at),
        "error": document.error or None,
        "stopped_at": ts(document.completed_at) if document.indexing_status == "error" else None,
        "completed_segments": getattr(document, "api_completed_segments", 0),
        "total_segments": getattr(document, "api_total_segments", 0),
    }


def child_chunk_payload(chunk: ChildChunk, score: float | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(chunk.id),
        "segment_id": str(chunk.segment_id),
        "content": chunk.content,
        "position": chunk.position,
        "word_count": chunk.word_count,
        "type": "automatic",
        "created_at": ts(chunk.created_at),
        "updated_at": ts(chunk.updated_at),
    }
    if score is not None:
        data["score"] = score
    return data


def segment_payload(segment: Segment, *, with_children: bool = True) -> dict[str, Any]:
    children = [child_chunk_payload(c) for c in segment.child_chunks.all()] if with_children else []
    completed = segment.status == "completed"
    return {
        "id": str(segment.id),
        "position": segment.position,
        "document_id": str(segment.document_id),
        "content": segment.content,
        "sign_content": segment.content,
        "answer": segment.answer,
        "word_count": segment.word_count,
        "tokens": segment.tokens,
        "keywords": list(segment.keywords or []),
        "index_node_id": segment.index_node_id,
        "index_node_hash": segment.index_node_hash,
        "hit_count": segment.hit_count,
        "enabled": segment.enabled,
        "disabled_at": None,
        "disabled_by": None,
        "status": segment.status,
        "created_by": None,
        "created_at": ts(segment.created_at),
        "updated_at": ts(segment.updated_at),
        "updated_by": None,
        "indexing_at": ts(segment.created_at),
        "completed_at": ts(segment.updated_at) if completed else None,
        "error": segment.error or None,
        "stopped_at": None,
        "child_chunks": children,
        "attachments": [],
        "summary": None,
    }
