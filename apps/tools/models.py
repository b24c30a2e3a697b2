"""Tool providers of a workspace: built-in credentials, custom API tools (OpenAPI), workflows
exposed as tools, and MCP servers. Secrets are stored encrypted (``apps.tenants.crypto``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceScoped


class BuiltinToolCredential(WorkspaceScoped):
    """Credentials of one built-in provider (``apps.tools.builtin``) in a workspace."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=64, help_text="Built-in provider name, e.g. tavily")
    encrypted_credentials = models.TextField(editable=False)
    is_valid = models.BooleanField(null=True, help_text="Result of the last validation call")
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider"], name="builtin_tool_cred_unique"
            )
        ]
        ordering = ["provider"]
        verbose_name = "built-in tool credential"

    def __str__(self) -> str:
        return f"{self.provider} @ {self.workspace_id}"


class ApiToolProvider(WorkspaceScoped):
    """Dify's "custom tool": an OpenAPI 3 / Swagger 2 document, one tool per operation."""

    class SchemaType(models.TextChoices):
        OPENAPI = "openapi", "OpenAPI 3"
        SWAGGER = "swagger", "Swagger 2"

    class AuthType(models.TextChoices):
        NONE = "none", "None"
        API_KEY_HEADER = "api_key_header", "API key in a header"
        API_KEY_QUERY = "api_key_query", "API key in the query string"

    class HeaderPrefix(models.TextChoices):
        BASIC = "basic", "Basic"
        BEARER = "bearer", "Bearer"
        CUSTOM = "custom", "Custom (sent as it is)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    icon = models.JSONField(
        default=dict, blank=True, help_text='Emoji {"content", "background"} or an image URL'
    )
    schema_type = models.CharField(
        max_length=16, choices=SchemaType.choices, default=SchemaType.OPENAPI
    )
    schema = models.TextField(help_text="The OpenAPI 3 / Swagger 2 document, JSON or YAML")
    auth_type = models.CharField(max_length=32, choices=AuthType.choices, default=AuthType.NONE)
    api_key_header = models.CharField(max_length=255, blank=True, default="Authorization")
    api_key_header_prefix = models.CharField(
        max_length=16, choices=HeaderPrefix.choices, default=HeaderPrefix.CUSTOM
    )
    api_key_query_param = models.CharField(max_length=255, blank=True, default="key")
    encrypted_credentials = models.TextField(blank=True, default="", editable=False)
    privacy_policy = models.CharField(max_length=2048, blank=True, default="")
    custom_disclaimer = models.TextField(blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="api_tool_provider_unique")
        ]
        ordering = ["name"]
        verbose_name = "API tool provider"

    def __str__(self) -> str:
        return self.name


class WorkflowToolProvider(WorkspaceScoped):
    """A published workflow app exposed as one tool (its start variables are the parameters)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey("workflows.App", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(
        max_length=255, help_text="Tool name the model sees: letters, digits, _"
    )
    label = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    icon = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(
        default=list,
        blank=True,
        help_text='Per start variable: [{"name", "description", "form": "llm" | "form"}]',
    )
    privacy_policy = models.CharField(max_length=2048, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="workflow_tool_name_unique"),
            models.UniqueConstraint(fields=["workspace", "app"], name="workflow_tool_app_unique"),
        ]
        ordering = ["name"]
        verbose_name = "workflow tool provider"

    def __str__(self) -> str:
        return self.name


class McpToolProvider(WorkspaceScoped):
    """An MCP server; its tools are listed on create and on "refresh" and kept here."""

    class Transport(models.TextChoices):
        STREAMABLE_HTTP = "streamable_http", "Streamable HTTP"
        SSE = "sse", "SSE"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    server_identifier = models.CharField(
        max_length=64, help_text="Stable id used in DSL files (provider_id of mcp tools)"
    )
    server_url = models.URLField(max_length=2048)
    icon = models.JSONField(default=dict, blank=True)
    encrypted_headers = models.TextField(blank=True, default="", editable=False)
    transport = models.CharField(
        max_length=32, choices=Transport.choices, default=Transport.STREAMABLE_HTTP
    )
    timeout = models.FloatField(default=30.0, help_text="Seconds per request")
    tools = models.JSONField(default=list, blank=True, editable=False)
    tools_updated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="mcp_provider_name_unique"),
            models.UniqueConstraint(
                fields=["workspace", "server_identifier"], name="mcp_provider_identifier_unique"
            ),
        ]
        ordering = ["name"]
        verbose_name = "MCP tool provider"

    def __str__(self) -> str:
        return self.name


class ApiBasedExtension(WorkspaceScoped):
    """Dify's "API extension": an HTTP endpoint the platform calls at extension points
    (``app.moderation.input`` / ``app.moderation.output`` moderation, ``app.external_data_tool
    .query`` external data), with ``Authorization: Bearer <api_key>``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    api_endpoint = models.CharField(max_length=1024)
    encrypted_api_key = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="api_extension_unique_name")
        ]
        ordering = ["name"]
        verbose_name = "API-based extension"

    def __str__(self) -> str:
        return self.name
