"""Knowledge bases (Dify's datasets): documents, their segments (chunks), child chunks,
metadata fields and recorded queries.

Embeddings live in one ``vector`` column without a fixed dimension; each dataset gets a
partial HNSW index over ``embedding::vector(<its dimension>)`` (created by the store
adapter), so datasets with different embedding models share the table and every query
uses its dataset's index. Full-text search uses a ``tsvector`` column with a GIN index.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from pgvector.django import VectorField

from apps.tenants.models import WorkspaceScoped


class Dataset(WorkspaceScoped):
    class IndexingTechnique(models.TextChoices):
        HIGH_QUALITY = "high_quality"
        ECONOMY = "economy"

    class DocForm(models.TextChoices):
        TEXT = "text_model"
        HIERARCHICAL = "hierarchical_model"
        QA = "qa_model"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    provider = models.CharField(max_length=32, default="vendor")
    permission = models.CharField(max_length=32, default="only_me")
    data_source_type = models.CharField(max_length=32, blank=True, default="")
    indexing_technique = models.CharField(
        max_length=32, choices=IndexingTechnique.choices, default=IndexingTechnique.HIGH_QUALITY
    )
    doc_form = models.CharField(max_length=32, choices=DocForm.choices, default=DocForm.TEXT)
    embedding_model_provider = models.CharField(max_length=64, blank=True, default="")
    embedding_model = models.CharField(max_length=255, blank=True, default="")
    embedding_dimensions = models.IntegerField(null=True, blank=True)
    retrieval_model = models.JSONField(default=dict, blank=True)
    built_in_field_enabled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="dataset_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Document(WorkspaceScoped):
    class Status(models.TextChoices):
        WAITING = "waiting"
        PARSING = "parsing"
        CLEANING = "cleaning"
        SPLITTING = "splitting"
        INDEXING = "indexing"
        COMPLETED = "completed"
        ERROR = "error"
        PAUSED = "paused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="documents")
    position = models.IntegerField(default=1)
    name = models.CharField(max_length=255)
    data_source_type = models.CharField(max_length=32, default="upload_file")
    source_file = models.FileField(upload_to="datasets/%Y/%m/", max_length=512, blank=True)
    source_url = models.URLField(max_length=2048, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    file_extension = models.CharField(max_length=32, blank=True, default="")
    mime_type = models.CharField(max_length=255, blank=True, default="")
    content_hash = models.CharField(max_length=64, blank=True, default="")
    batch = models.CharField(max_length=64, db_index=True)
    created_from = models.CharField(max_length=32, default="api")
    process_rule = models.JSONField(default=dict, blank=True)
    doc_form = models.CharField(max_length=32, default="text_model")
    doc_language = models.CharField(max_length=32, blank=True, default="")
    doc_metadata = models.JSONField(default=dict, blank=True)
    indexing_status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True
    )
    error = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    archived = models.BooleanField(default=False)
    is_paused = models.BooleanField(default=False)
    word_count = models.IntegerField(default=0)
    tokens = models.IntegerField(default=0)
    indexing_latency = models.FloatField(default=0)
    indexing_attempts = models.IntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    parsing_completed_at = models.DateTimeField(null=True, blank=True)
    cleaning_completed_at = models.DateTimeField(null=True, blank=True)
    splitting_completed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["dataset", "position"]),
            # the documents retrieval must skip (stores.scope): usually none, found without
            # reading the dataset's documents on every query
            models.Index(
                fields=["dataset"],
                name="document_unsearchable",
                condition=~models.Q(enabled=True, archived=False, indexing_status="completed"),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Segment(WorkspaceScoped):
    """A chunk of a document: what retrieval returns (the parent in parent-child mode)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="segments")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="segments")
    position = models.IntegerField()
    content = models.TextField()
    answer = models.TextField(blank=True, default="")
    word_count = models.IntegerField(default=0)
    tokens = models.IntegerField(default=0)
    keywords = models.JSONField(default=list, blank=True)
    index_node_id = models.CharField(max_length=64, blank=True, default="")
    index_node_hash = models.CharField(max_length=64, blank=True, default="")
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=16, default="completed")
    error = models.TextField(blank=True, default="")
    embedding = VectorField(null=True, blank=True)
    search_vector = SearchVectorField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document", "position"]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"], name="segment_unique_position")
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="segment_search_gin"),
            models.Index(fields=["dataset", "enabled"]),
        ]

    def __str__(self) -> str:
        return f"segment {self.position} of {self.document_id}"

    @property
    def hit_count(self) -> int:
        """Times retrieval returned this segment (kept in ``SegmentHit``; load with
        ``select_related("hits")`` to avoid a query per segment)."""
        try:
            return self.hits.hit_count
        except ObjectDoesNotExist:
            return 0


class SegmentHit(models.Model):
    """How often retrieval returned a segment. Off the segment row on purpose: updating a
    segment row writes a new version of it into the dataset's HNSW and GIN indexes (a graph
    insert per hit on a large dataset); this table has only its primary key."""

    segment = models.OneToOneField(
        Segment, on_delete=models.CASCADE, primary_key=True, related_name="hits"
    )
    hit_count = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hit_count} hits of {self.segment_id}"


class ChildChunk(WorkspaceScoped):
    """Parent-child mode: small chunks used for matching; their segment is the context."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="child_chunks")
    position = models.IntegerField()
    content = models.TextField()
    word_count = models.IntegerField(default=0)
    tokens = models.IntegerField(default=0)
    index_node_id = models.CharField(max_length=64, blank=True, default="")
    embedding = VectorField(null=True, blank=True)
    search_vector = SearchVectorField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["segment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "position"], name="child_unique_position")
        ]
        indexes = [GinIndex(fields=["search_vector"], name="child_search_gin")]

    def __str__(self) -> str:
        return f"child {self.position} of {self.segment_id}"


class MetadataField(WorkspaceScoped):
    """A custom metadata field of a dataset (Dify: string, number or time)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="metadata_fields")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, default="string")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="metadata_field_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class DatasetQuery(WorkspaceScoped):
    """A recorded retrieval (hit testing, app or API)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="queries")
    content = models.TextField()
    source = models.CharField(max_length=32, default="hit_testing")
    retrieval_model = models.JSONField(default=dict, blank=True)
    result_count = models.IntegerField(default=0)
    elapsed = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.content[:60]
