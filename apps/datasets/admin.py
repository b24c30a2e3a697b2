"""Knowledge bases in the admin: datasets with document counts, documents with progress and
actions (retry, pause, resume, re-index), read-only segments and recorded queries."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from apps.core.errors import AppError
from apps.datasets import services
from apps.datasets.models import Dataset, DatasetQuery, Document, MetadataField, Segment


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = (
        "name", "workspace", "indexing_technique", "doc_form", "embedding_model",
        "document_count", "completed_count", "created_at",
    )  # fmt: skip
    list_filter = ("indexing_technique", "doc_form")
    search_fields = ("name", "id")
    readonly_fields = ("id", "embedding_dimensions", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dataset]:
        return (
            super()
            .get_queryset(request)
            .select_related("workspace")
            .annotate(
                n_documents=Count("documents", distinct=True),
                n_completed=Count(
                    "documents", filter=Q(documents__indexing_status="completed"), distinct=True
                ),
            )
        )

    @admin.display(description="documents", ordering="n_documents")
    def document_count(self, obj: Dataset) -> int:
        return getattr(obj, "n_documents", 0)

    @admin.display(description="completed", ordering="n_completed")
    def completed_count(self, obj: Dataset) -> int:
        return getattr(obj, "n_completed", 0)


def _each(request: HttpRequest, queryset: QuerySet[Document], action: str) -> None:
    service = getattr(services, f"document_{action}")
    done, errors = 0, []
    for document in queryset:
        try:
            service(document=document)
            done += 1
        except AppError as exc:
            errors.append(f"{document.name}: {exc.message}")
    messages.info(request, f"{action}: {done} document(s)")
    for error in errors:
        messages.warning(request, error)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "name", "dataset", "indexing_status", "progress", "is_paused", "tokens",
        "indexing_latency", "short_error", "created_at",
    )  # fmt: skip
    list_filter = ("indexing_status", "is_paused", "data_source_type")
    search_fields = ("name", "id", "dataset__name")
    actions = ("retry", "pause", "resume", "reindex")
    readonly_fields = (
        "id", "dataset", "batch", "indexing_status", "error", "word_count", "tokens",
        "indexing_latency", "indexing_attempts", "heartbeat_at", "processing_started_at",
        "parsing_completed_at", "cleaning_completed_at", "splitting_completed_at",
        "completed_at", "paused_at", "content_hash", "created_at", "updated_at",
    )  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return (
            super()
            .get_queryset(request)
            .select_related("dataset")
            .annotate(
                total_segments=Count("segments"),
                completed_segments=Count("segments", filter=Q(segments__status="completed")),
            )
        )

    @admin.display(description="progress")
    def progress(self, obj: Document) -> str:
        return f"{getattr(obj, 'completed_segments', 0)}/{getattr(obj, 'total_segments', 0)}"

    @admin.display(description="error")
    def short_error(self, obj: Document) -> str:
        return obj.error[:80]

    @admin.action(description="Retry indexing (error / paused)")
    def retry(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        _each(request, queryset, "retry")

    @admin.action(description="Pause indexing")
    def pause(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        _each(request, queryset, "pause")

    @admin.action(description="Resume indexing")
    def resume(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        _each(request, queryset, "resume")

    @admin.action(description="Re-index")
    def reindex(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        _each(request, queryset, "reindex")


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("position", "document", "short_content", "tokens", "hit_count", "enabled")
    list_filter = ("enabled", "status")
    search_fields = ("content", "document__name", "id")
    exclude = ("embedding", "search_vector")
    readonly_fields = (
        "id", "dataset", "document", "position", "content", "answer", "keywords",
        "word_count", "tokens", "index_node_id",
        "index_node_hash", "hit_count", "status", "error", "created_at", "updated_at",
    )  # fmt: skip
    list_select_related = ("document", "hits")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="content")
    def short_content(self, obj: Segment) -> str:
        return obj.content[:80]


@admin.register(DatasetQuery)
class DatasetQueryAdmin(admin.ModelAdmin):
    list_display = ("content", "dataset", "source", "result_count", "elapsed", "created_at")
    list_filter = ("source",)
    search_fields = ("content",)
    readonly_fields = tuple(f.name for f in DatasetQuery._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MetadataField)
class MetadataFieldAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "dataset", "created_at")
    search_fields = ("name",)
