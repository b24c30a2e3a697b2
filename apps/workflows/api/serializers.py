from __future__ import annotations

from rest_framework import serializers

from apps.workflows.models import App


class AppSerializer(serializers.ModelSerializer):
    created_at = serializers.SerializerMethodField()

    class Meta:
        model = App
        fields = [
            "id",
            "name",
            "mode",
            "description",
            "icon",
            "icon_background",
            "enable_api",
            "enable_site",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]

    def get_created_at(self, obj: App) -> int:
        return int(obj.created_at.timestamp())


class AppCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    mode = serializers.ChoiceField(choices=App.Mode.values)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class AppInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    mode = serializers.CharField()
    author_name = serializers.CharField()


class AppUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = App
        fields = [
            "name", "description", "icon", "icon_background", "enable_api", "enable_site",
            "use_icon_as_answer_icon", "model_config",
        ]  # fmt: skip
        extra_kwargs = {f: {"required": False} for f in fields}


class DSLImportSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["yaml-content"], default="yaml-content")
    yaml_content = serializers.CharField()
    name = serializers.CharField(required=False, allow_blank=True)
    publish = serializers.BooleanField(default=False)


class DraftWorkflowSerializer(serializers.Serializer):
    graph = serializers.DictField()
    features = serializers.DictField(required=False, default=dict)
    environment_variables = serializers.ListField(
        child=serializers.DictField(), required=False, default=list
    )
    conversation_variables = serializers.ListField(
        child=serializers.DictField(), required=False, default=list
    )


class DraftRunSerializer(serializers.Serializer):
    inputs = serializers.DictField(required=False, default=dict)
    query = serializers.CharField(required=False, allow_blank=True, default="")


def _ts(value: object) -> int | None:
    return int(value.timestamp()) if value is not None else None  # type: ignore[attr-defined]


class WorkflowRunSerializer(serializers.ModelSerializer):
    created_at = serializers.SerializerMethodField()
    finished_at = serializers.SerializerMethodField()

    class Meta:
        from apps.workflows.models import WorkflowRun

        model = WorkflowRun
        fields = [
            "id", "workflow_id", "triggered_from", "status", "inputs", "outputs", "error",
            "elapsed_time", "node_time", "engine_time", "persistence_time", "total_tokens",
            "total_steps", "exceptions_count", "created_by_end_user", "created_at",
            "finished_at",
        ]  # fmt: skip

    def get_created_at(self, obj: object) -> int | None:
        return _ts(obj.created_at)  # type: ignore[attr-defined]

    def get_finished_at(self, obj: object) -> int | None:
        return _ts(obj.finished_at)  # type: ignore[attr-defined]


class NodeExecutionSerializer(serializers.ModelSerializer):
    class Meta:
        from apps.workflows.models import NodeExecution

        model = NodeExecution
        fields = [
            "id", "node_id", "node_type", "title", "index", "predecessor_node_id",
            "parent_node_id", "iteration_index", "loop_index", "status", "inputs",
            "process_data", "outputs", "error", "elapsed_time", "total_tokens", "retries",
        ]  # fmt: skip
