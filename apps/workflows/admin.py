from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.workflows.models import (
    Annotation,
    AnnotationHitHistory,
    AnnotationReplyJob,
    AnnotationReplySetting,
    App,
    ConversationVariableSet,
    NodeExecution,
    Workflow,
    WorkflowRun,
)


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "workspace", "enable_api", "published_workflow", "created_at"]
    list_filter = ["mode", "enable_api"]
    search_fields = ["name", "id", "workspace__name"]
    readonly_fields = ["id", "created_at", "updated_at", "dsl_extras"]
    autocomplete_fields = ["workspace"]
    raw_id_fields = ["published_workflow"]
    actions = ["publish"]

    @admin.action(description="Publish the draft workflow")
    def publish(self, request: HttpRequest, queryset: QuerySet[App]) -> None:
        from apps.core.errors import AppError
        from apps.workflows.run_services import workflow_publish

        for app in queryset:
            try:
                workflow_publish(app=app)
                self.message_user(request, f"{app.name}: published")
            except AppError as exc:
                self.message_user(request, f"{app.name}: {exc.message}", messages.ERROR)


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["app", "version", "type", "updated_at"]
    list_filter = ["type"]
    search_fields = ["app__name", "id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    raw_id_fields = ["app"]


class NodeExecutionInline(admin.TabularInline):
    """The per-node table of a run."""

    model = NodeExecution
    extra = 0
    can_delete = False
    fields = (
        "index", "title", "node_type", "status", "elapsed_ms", "total_tokens", "retries",
        "parent_node_id", "iteration_index", "loop_index", "error",
    )  # fmt: skip
    readonly_fields = fields
    ordering = ["index", "created_at"]
    show_change_link = True

    @admin.display(description="elapsed (ms)")
    def elapsed_ms(self, obj: NodeExecution) -> str:
        return f"{obj.elapsed_time * 1000:.2f}"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = [
        "id", "app", "status", "elapsed_time", "total_steps", "total_tokens", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "triggered_from"]
    search_fields = ["id", "app__name"]
    readonly_fields = [
        "id", "workspace", "app", "workflow", "triggered_from", "status", "inputs",
        "system_variables", "outputs", "error", "elapsed_time", "node_time", "engine_time",
        "persistence_time", "total_tokens", "total_steps", "exceptions_count",
        "created_by_account", "created_by_end_user", "created_at", "finished_at",
    ]  # fmt: skip
    inlines = [NodeExecutionInline]
    actions = ["rerun"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Re-run with the same inputs")
    def rerun(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        from apps.core.errors import AppError
        from apps.workflows.run_services import workflow_rerun

        for run in queryset.select_related("app", "workflow"):
            try:
                handle = workflow_rerun(run=run)
                for _ in handle.events():
                    pass
            except AppError as exc:
                self.message_user(request, f"{run.pk}: {exc.message}", messages.ERROR)
                continue
            status = handle.finished.status if handle.finished else "interrupted"
            level = messages.SUCCESS if status == "succeeded" else messages.WARNING
            self.message_user(request, f"re-ran {run.pk} as {handle.id}: {status}", level)


@admin.register(NodeExecution)
class NodeExecutionAdmin(admin.ModelAdmin):
    list_display = ["title", "node_type", "status", "run", "elapsed_time", "created_at"]
    list_filter = ["status", "node_type"]
    search_fields = ["node_id", "title", "run__id"]
    readonly_fields = [f.name for f in NodeExecution._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ConversationVariableSet)
class ConversationVariableSetAdmin(admin.ModelAdmin):
    list_display = ["conversation_id", "app", "updated_at"]
    search_fields = ["conversation_id", "app__name"]
    raw_id_fields = ["app"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["question", "app", "hit_count", "embedding_model", "created_at"]
    search_fields = ["question", "content", "app__name", "id"]
    list_filter = ["embedding_model"]
    readonly_fields = [
        "id", "hit_count", "embedding_provider", "embedding_model", "created_at", "updated_at",
    ]  # fmt: skip
    exclude = ["embedding"]
    raw_id_fields = ["app", "created_by", "conversation", "message"]


@admin.register(AnnotationReplySetting)
class AnnotationReplySettingAdmin(admin.ModelAdmin):
    list_display = ["app", "enabled", "score_threshold", "embedding_provider", "embedding_model"]
    list_filter = ["enabled"]
    search_fields = ["app__name", "app__id"]
    # switched on and off by the enable/disable jobs (they embed or drop the annotations)
    readonly_fields = [
        "id", "workspace", "app", "enabled", "embedding_provider", "embedding_model",
        "created_at", "updated_at",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AnnotationHitHistory)
class AnnotationHitHistoryAdmin(admin.ModelAdmin):
    list_display = ["question", "annotation", "score", "source", "created_at"]
    search_fields = ["question", "annotation__question", "app__name"]
    readonly_fields = [f.name for f in AnnotationHitHistory._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AnnotationReplyJob)
class AnnotationReplyJobAdmin(admin.ModelAdmin):
    list_display = ["id", "app", "action", "status", "embedded", "created_at", "updated_at"]
    list_filter = ["action", "status"]
    search_fields = ["id", "app__name"]
    readonly_fields = [f.name for f in AnnotationReplyJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
