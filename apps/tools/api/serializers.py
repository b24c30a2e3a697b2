"""Request bodies of the tools console API (Dify's field names)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.tools.models import McpToolProvider


class BuiltinCredentialsSerializer(serializers.Serializer):
    credentials = serializers.DictField()
    validate = serializers.BooleanField(default=True)  # type: ignore[assignment]


class ApiSchemaSerializer(serializers.Serializer):
    schema = serializers.CharField(help_text="OpenAPI 3 / Swagger 2 document, JSON or YAML")
    schema_type = serializers.ChoiceField(
        choices=["openapi", "swagger"], required=False, allow_blank=True
    )


class ApiCredentialsSerializer(serializers.Serializer):
    auth_type = serializers.ChoiceField(
        choices=["none", "api_key", "api_key_header", "api_key_query"], default="none"
    )
    api_key_header = serializers.CharField(required=False, allow_blank=True)
    api_key_value = serializers.CharField(required=False, allow_blank=True)
    api_key_header_prefix = serializers.ChoiceField(
        choices=["basic", "bearer", "custom"], required=False
    )
    api_key_query_param = serializers.CharField(required=False, allow_blank=True)


class ApiProviderSerializer(ApiSchemaSerializer):
    """Dify's ``tool-provider/api/add`` body (``provider`` is the name; ``name`` works too)."""

    provider = serializers.CharField(required=False, max_length=255)
    name = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True)
    credentials = ApiCredentialsSerializer(required=False)
    icon = serializers.JSONField(required=False)
    privacy_policy = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    custom_disclaimer = serializers.CharField(required=False, allow_blank=True)
    labels = serializers.ListField(child=serializers.CharField(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        name = attrs.pop("provider", None) or attrs.get("name")
        if not name and not self.partial:
            raise serializers.ValidationError({"provider": "a name is required"})
        if name:
            attrs["name"] = name
        return attrs


class ApiToolTestSerializer(serializers.Serializer):
    tool_name = serializers.CharField()
    parameters = serializers.DictField(required=False, default=dict)


class WorkflowParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    form = serializers.ChoiceField(choices=["llm", "form"], default="llm")


class WorkflowToolSerializer(serializers.Serializer):
    """Dify's ``tool-provider/workflow/create`` body."""

    workflow_app_id = serializers.UUIDField(required=False)
    name = serializers.CharField(max_length=64)
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, max_length=255
    )
    description = serializers.CharField(required=False, allow_blank=True)
    icon = serializers.JSONField(required=False)
    parameters = WorkflowParameterSerializer(many=True, required=False)
    privacy_policy = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    labels = serializers.ListField(child=serializers.CharField(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and not attrs.get("workflow_app_id"):
            raise serializers.ValidationError({"workflow_app_id": "is required"})
        return attrs


class McpProviderSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    server_url = serializers.URLField(max_length=2048)
    server_identifier = serializers.CharField(required=False, allow_blank=True, max_length=64)
    headers = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    transport = serializers.ChoiceField(
        choices=McpToolProvider.Transport.values, default="streamable_http"
    )
    timeout = serializers.FloatField(default=30.0, min_value=1.0, max_value=600.0)
    icon = serializers.JSONField(required=False)
