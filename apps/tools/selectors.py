"""Reads of a workspace's tool providers. Every lookup takes the workspace: a provider of
another workspace is simply not found."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any, TypeVar

from django.db.models import Q

from apps.core.errors import NotFound
from apps.tenants.crypto import decrypt_json
from apps.tenants.models import Workspace, WorkspaceScoped
from apps.tools import openapi
from apps.tools.base import BuiltinProvider, ToolDeclaration, ToolError
from apps.tools.builtin import builtin_providers
from apps.tools.codec import declaration_from_json
from apps.tools.models import (
    ApiToolProvider,
    BuiltinToolCredential,
    McpToolProvider,
    WorkflowToolProvider,
)
from apps.tools.workflow_tool import workflow_tool_declaration

PROVIDER_TYPES = ("builtin", "api", "workflow", "mcp")
M = TypeVar("M", bound=WorkspaceScoped)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _get(model: type[M], workspace: Workspace, provider_id: object, label: str) -> M:
    pk = _uuid(provider_id)
    found = model.objects.for_workspace(workspace).filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFound(f"{label} {provider_id} not found")
    return found


# -- built-in -------------------------------------------------------------------------------
def builtin_provider_get(name: str) -> BuiltinProvider:
    provider = builtin_providers.get(name)
    if provider is None:
        known = ", ".join(builtin_providers.names()) or "none"
        raise NotFound(f"built-in tool provider {name!r} not found; known: {known}")
    return provider


def builtin_credential_get(
    *, workspace: Workspace, provider_name: str
) -> BuiltinToolCredential | None:
    return (
        BuiltinToolCredential.objects.for_workspace(workspace)
        .filter(provider=provider_name)
        .first()
    )


def builtin_credentials_for_run(
    *, workspace: Workspace, provider: BuiltinProvider
) -> dict[str, Any]:
    """Decrypted credentials of a built-in provider; ToolError when it needs some and has none."""
    name = provider.declaration.name
    credential = builtin_credential_get(workspace=workspace, provider_name=name)
    if credential is None:
        if provider.declaration.needs_credentials:
            raise ToolError(
                f"tool provider {name} is not authorized in this workspace; set its credentials"
            )
        return {}
    return decrypt_json(credential.encrypted_credentials)


# -- API tools ------------------------------------------------------------------------------
def api_tool_provider_get(*, workspace: Workspace, provider_id: object) -> ApiToolProvider:
    return _get(ApiToolProvider, workspace, provider_id, "API tool provider")


def api_tool_provider_find(*, workspace: Workspace, ref: str) -> ApiToolProvider | None:
    """By id or by name (DSL files name API tools both ways)."""
    query = Q(name=ref)
    if (pk := _uuid(ref)) is not None:
        query |= Q(pk=pk)
    return ApiToolProvider.objects.for_workspace(workspace).filter(query).first()


@lru_cache(maxsize=128)
def _spec(schema: str, schema_type: str) -> openapi.ApiSpec:
    return openapi.parse_spec(schema, schema_type=schema_type or None)


def api_tool_spec(provider: ApiToolProvider) -> openapi.ApiSpec:
    """The provider's parsed document (parsed once per distinct document text)."""
    return _spec(provider.schema, provider.schema_type)


def api_tool_credentials(provider: ApiToolProvider) -> dict[str, Any]:
    """Dify's credentials object, decrypted."""
    secret = decrypt_json(provider.encrypted_credentials) if provider.encrypted_credentials else {}
    return {
        "auth_type": provider.auth_type,
        "api_key_header": provider.api_key_header,
        "api_key_header_prefix": provider.api_key_header_prefix,
        "api_key_query_param": provider.api_key_query_param,
        "api_key_value": str(secret.get("api_key_value") or ""),
    }


# -- workflow tools -------------------------------------------------------------------------
def workflow_tool_provider_get(
    *, workspace: Workspace, provider_id: object
) -> WorkflowToolProvider:
    return _get(WorkflowToolProvider, workspace, provider_id, "workflow tool provider")


def workflow_tool_provider_find(*, workspace: Workspace, ref: str) -> WorkflowToolProvider | None:
    """By id, by name, or by the workflow app's id."""
    query = Q(name=ref)
    if (pk := _uuid(ref)) is not None:
        query |= Q(pk=pk) | Q(app_id=pk)
    return (
        WorkflowToolProvider.objects.for_workspace(workspace)
        .filter(query)
        .select_related("app", "app__published_workflow")
        .first()
    )


def workflow_tool_declaration_get(provider: WorkflowToolProvider) -> ToolDeclaration:
    """The tool's declaration from the app's published workflow (ToolError if unpublished)."""
    published = provider.app.published_workflow
    if published is None:
        raise ToolError(
            f"workflow tool {provider.name}: the app {provider.app.name} is not published"
        )
    return workflow_tool_declaration(
        name=provider.name,
        label=provider.label,
        description=provider.description,
        graph=published.graph,
        configuration=provider.parameters or [],
    )


# -- MCP ------------------------------------------------------------------------------------
def mcp_provider_get(*, workspace: Workspace, provider_id: object) -> McpToolProvider:
    return _get(McpToolProvider, workspace, provider_id, "MCP tool provider")


def mcp_provider_find(*, workspace: Workspace, ref: str) -> McpToolProvider | None:
    """By server identifier (what DSL files use), id or name."""
    query = Q(server_identifier=ref) | Q(name=ref)
    if (pk := _uuid(ref)) is not None:
        query |= Q(pk=pk)
    return McpToolProvider.objects.for_workspace(workspace).filter(query).first()


def mcp_headers(provider: McpToolProvider) -> dict[str, str]:
    if not provider.encrypted_headers:
        return {}
    return {str(k): str(v) for k, v in decrypt_json(provider.encrypted_headers).items()}


def mcp_tool_declarations(provider: McpToolProvider) -> list[ToolDeclaration]:
    return [declaration_from_json(item) for item in provider.tools or []]


# -- everything -----------------------------------------------------------------------------
def tool_providers_list(
    *, workspace: Workspace, provider_type: str | None = None
) -> list[dict[str, Any]]:
    """Dify's ``/workspaces/current/tool-providers``: every provider with its tools."""
    from apps.tools import payloads

    wanted = [provider_type] if provider_type else list(PROVIDER_TYPES)
    result: list[dict[str, Any]] = []
    if "builtin" in wanted:
        stored = {c.provider: c for c in BuiltinToolCredential.objects.for_workspace(workspace)}
        for provider in builtin_providers:
            credential = stored.get(provider.declaration.name)
            result.append(payloads.builtin_provider_payload(provider, credential))
    if "api" in wanted:
        for api in ApiToolProvider.objects.for_workspace(workspace).select_related("created_by"):
            result.append(payloads.api_provider_payload(api))
    if "workflow" in wanted:
        workflows = WorkflowToolProvider.objects.for_workspace(workspace).select_related(
            "app", "app__published_workflow"
        )
        result += [payloads.workflow_provider_payload(w) for w in workflows]
    if "mcp" in wanted:
        result += [
            payloads.mcp_provider_payload(m)
            for m in McpToolProvider.objects.for_workspace(workspace)
        ]
    return result
