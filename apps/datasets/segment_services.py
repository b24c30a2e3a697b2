"""Writes of segments (chunks) and metadata; re-exported by ``apps.datasets.services``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Max

from apps.core.errors import InvalidParam
from apps.datasets import stores
from apps.datasets.indexing import Chunk, Embedder, index_salt, is_hierarchical
from apps.datasets.models import ChildChunk, Document, MetadataField, Segment
from apps.datasets.rag.process_rule import process_rule_settings
from apps.datasets.rag.splitting import split_general
from apps.datasets.rag.tokens import count_tokens

BUILT_IN_FIELDS = {
    "document_name": "string", "uploader": "string", "upload_date": "time",
    "last_update_date": "time", "source": "string",
}  # fmt: skip
METADATA_TYPES = ("string", "number", "time")


def _keywords(keywords: Any) -> list[str]:
    if keywords is None:
        return []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise InvalidParam("keywords must be a list of strings")
    return [k.strip() for k in keywords if k.strip()]


def _index_segment(segment: Segment, document: Document) -> None:
    """(Re)compute tokens, children, embeddings and the search vector of one segment."""
    dataset = document.dataset
    hierarchical = is_hierarchical(document)
    children: list[str] = []
    if hierarchical:
        split = process_rule_settings(document.process_rule or None)
        kwargs = split.parent_child_kwargs()
        children = split_general(
            segment.content, separator=kwargs["child_separator"],
            max_tokens=kwargs["child_max_tokens"], chunk_overlap=kwargs["child_overlap"],
        ) or [segment.content]  # fmt: skip
    embedder = Embedder(dataset) if dataset.indexing_technique == "high_quality" else None
    texts = children if hierarchical else [segment.content]
    vectors = embedder.embed(texts) if embedder else [None] * len(texts)
    chunk = Chunk(segment.position, segment.content, children, salt=index_salt(dataset))
    segment.word_count = len(segment.content) + len(segment.answer or "")
    segment.tokens = count_tokens(segment.content)
    segment.index_node_hash = chunk.hash
    segment.embedding = None if hierarchical else vectors[0]
    segment.status = "completed"
    segment.save()
    ChildChunk.objects.filter(segment=segment).delete()
    created = ChildChunk.objects.bulk_create(
        ChildChunk(
            workspace_id=segment.workspace_id,
            dataset_id=segment.dataset_id,
            document=document,
            segment=segment,
            position=i,
            content=text,
            word_count=len(text),
            tokens=count_tokens(text),
            embedding=vectors[i - 1],
        )
        for i, text in enumerate(children, start=1)
    )
    stores.refresh_search_vectors(segment_ids=[segment.pk], child_ids=[c.pk for c in created])
    if embedder is not None and dataset.embedding_dimensions:
        dims = dataset.embedding_dimensions  # after commit: built CONCURRENTLY, if due
        transaction.on_commit(
            lambda: stores.ensure_vector_index_quietly(dataset_id=dataset.pk, dimensions=dims)
        )


def _document_totals(document: Document) -> None:
    segments = document.segments.all()
    Document.objects.filter(pk=document.pk).update(
        word_count=sum(len(s.content) + len(s.answer or "") for s in segments),
        tokens=sum(s.tokens for s in segments),
    )


def segment_create(
    *, document: Document, content: str, answer: str = "", keywords: list[str] | None = None
) -> Segment:
    if not content or not content.strip():
        raise InvalidParam("content is required")
    if document.doc_form == "qa_model" and not (answer or "").strip():
        raise InvalidParam("Answer is required")
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        position = (locked.segments.aggregate(m=Max("position"))["m"] or 0) + 1
        segment = Segment(
            workspace_id=document.workspace_id, dataset_id=document.dataset_id,
            document=document, position=position, content=content, answer=answer or "",
            keywords=_keywords(keywords),
        )  # fmt: skip
        segment.index_node_id = str(segment.id)
        _index_segment(segment, document)
        _document_totals(document)
    return segment


def segment_update(
    *, segment: Segment, content: str | None = None, answer: str | None = None,
    keywords: list[str] | None = None, enabled: bool | None = None,
) -> Segment:  # fmt: skip
    document = segment.document
    with transaction.atomic():
        if enabled is not None:
            segment.enabled = bool(enabled)
        if keywords is not None:
            segment.keywords = _keywords(keywords)
        if answer is not None:
            segment.answer = answer
        if content is not None:
            if not content.strip():
                raise InvalidParam("content is required")
            segment.content = content
        if content is not None or answer is not None:
            _index_segment(segment, document)
            _document_totals(document)
        else:
            segment.save()
            stores.refresh_search_vectors(segment_ids=[segment.pk])
    return segment


def segment_delete(*, segment: Segment) -> None:
    document = segment.document
    with transaction.atomic():
        segment.delete()
        _document_totals(document)


# -- metadata ----------------------------------------------------------------------------------
def _field_name(name: str, dataset_id: Any, exclude: Any = None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise InvalidParam("Metadata name is required (at most 255 characters).")
    if name in BUILT_IN_FIELDS:
        raise InvalidParam("Metadata name already exists in Built-in fields.")
    if MetadataField.objects.filter(dataset_id=dataset_id, name=name).exclude(pk=exclude).exists():
        raise InvalidParam("Metadata name already exists.")
    return name


def metadata_field_create(*, dataset: Any, name: str, type: str) -> MetadataField:
    if type not in METADATA_TYPES:
        raise InvalidParam(f"type must be one of {', '.join(METADATA_TYPES)}")
    return MetadataField.objects.create(
        workspace_id=dataset.workspace_id, dataset=dataset,
        name=_field_name(name, dataset.pk), type=type,
    )  # fmt: skip


def metadata_field_update(*, field: MetadataField, name: str) -> MetadataField:
    new = _field_name(name, field.dataset_id, exclude=field.pk)
    with transaction.atomic():
        for document in Document.objects.filter(dataset_id=field.dataset_id):
            if field.name in (document.doc_metadata or {}):
                document.doc_metadata[new] = document.doc_metadata.pop(field.name)
                document.save(update_fields=["doc_metadata"])
        field.name = new
        field.save(update_fields=["name"])
    return field


def metadata_field_delete(*, field: MetadataField) -> None:
    with transaction.atomic():
        for document in Document.objects.filter(dataset_id=field.dataset_id):
            if field.name in (document.doc_metadata or {}):
                document.doc_metadata.pop(field.name)
                document.save(update_fields=["doc_metadata"])
        field.delete()


def _coerce(value: Any, kind: str, name: str) -> Any:
    if value is None:
        return None
    if kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParam(f"metadata {name!r} must be a number") from exc
        return int(number) if number.is_integer() else number
    if kind == "time":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise InvalidParam(f"metadata {name!r} must be a timestamp or ISO date") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp())
    return str(value)


def document_metadata_set(*, document: Document, values: dict) -> Document:
    """Replace the document's metadata with ``values`` ({field name: value})."""
    if not isinstance(values, dict):
        raise InvalidParam("metadata must be an object of field name to value")
    fields = {f.name: f.type for f in MetadataField.objects.filter(dataset_id=document.dataset_id)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InvalidParam(f"unknown metadata field(s): {', '.join(unknown)}")
    document.doc_metadata = {k: _coerce(v, fields[k], k) for k, v in values.items()}
    Document.objects.filter(pk=document.pk).update(
        doc_metadata=document.doc_metadata, updated_at=F("updated_at")
    )
    return document
