"""Reads of knowledge-base data. Every read is scoped to a workspace (or to a dataset that
was itself read through one)."""

from __future__ import annotations

import uuid

from django.db.models import Count, Q, QuerySet

from apps.core.errors import InvalidParam, NotFound
from apps.datasets.models import Dataset, Document, Segment
from apps.tenants.models import Workspace


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def dataset_get(*, workspace: Workspace, dataset_id: object) -> Dataset:
    pk = _uuid_or_none(dataset_id)
    dataset = Dataset.objects.for_workspace(workspace).filter(pk=pk).first() if pk else None
    if dataset is None:
        raise NotFound("Dataset not found.")
    return dataset


def datasets_list(*, workspace: Workspace, keyword: str | None = None) -> QuerySet[Dataset]:
    queryset = Dataset.objects.for_workspace(workspace)
    if keyword:
        queryset = queryset.filter(name__icontains=keyword)
    return queryset.order_by("-created_at")


def dataset_resolve(ref: str, *, workspace: Workspace | None = None) -> Dataset:
    """A dataset by id, or by exact name (within ``workspace`` when given), for operators."""
    pk = _uuid_or_none(ref)
    queryset = Dataset.objects.all()
    if workspace is not None:
        queryset = queryset.filter(workspace=workspace)
    if pk is not None:
        found = queryset.filter(pk=pk).first()
        if found is not None:
            return found
    matches = list(queryset.filter(name=ref)[:2])
    if not matches:
        raise NotFound(f"dataset {ref!r} not found")
    if len(matches) > 1:
        raise InvalidParam(f"more than one dataset is named {ref!r}; use its id or --workspace")
    return matches[0]


def document_get(*, dataset: Dataset, document_id: object) -> Document:
    pk = _uuid_or_none(document_id)
    document = dataset.documents.filter(pk=pk).first() if pk else None
    if document is None:
        raise NotFound("Document not found.")
    return document


def documents_of_batch(*, dataset: Dataset, batch: str) -> QuerySet[Document]:
    return dataset.documents.filter(batch=batch).order_by("position")


def documents_with_progress(*, dataset: Dataset) -> QuerySet[Document]:
    """Documents annotated with ``completed_segments`` / ``total_segments`` (Dify's progress)."""
    return dataset.documents.annotate(
        total_segments=Count("segments"),
        completed_segments=Count("segments", filter=Q(segments__status="completed")),
    )


def segment_get(*, document: Document, segment_id: object) -> Segment:
    pk = _uuid_or_none(segment_id)
    segment = document.segments.filter(pk=pk).first() if pk else None
    if segment is None:
        raise NotFound("Segment not found.")
    return segment
