"""Dify-shaped JSON of tool providers (``ToolProviderApiEntity``): secrets always masked."""

from __future__ import annotations

from typing import Any

from apps.tenants.crypto import decrypt_json, mask_secret
from apps.tools import selectors
from apps.tools.base import BuiltinProvider, ToolError
from apps.tools.models import (
    ApiToolProvider,
    BuiltinToolCredential,
    McpToolProvider,
    WorkflowToolProvider,
)


def _i18n(text: str) -> dict[str, str]:
    return {"en_US": text, "zh_Hans": text}


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _base(
    *, id: str, name: str, type: str, label: str, description: str, icon: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "author": "",
        "name": name,
        "plugin_id": None,
        "description": _i18n(description),
        "icon": icon,
        "label": _i18n(label or name),
        "type": type,
        "team_credentials": {},
        "is_team_authorization": True,
        "allow_delete": True,
        "labels": [],
        "tools": [],
    }


def builtin_credentials_masked(
    provider: BuiltinProvider, credential: BuiltinToolCredential | None
) -> dict[str, Any]:
    if credential is None:
        return {}
    secret = {c.name for c in provider.declaration.credentials if c.secret}
    values = decrypt_json(credential.encrypted_credentials)
    return {k: mask_secret(str(v)) if k in secret and v else v for k, v in values.items()}


def builtin_provider_payload(
    provider: BuiltinProvider, credential: BuiltinToolCredential | None
) -> dict[str, Any]:
    declaration = provider.declaration
    data = {**_base(id=declaration.name, name=declaration.name, type="builtin",
                    label=declaration.label, description=declaration.description,
                    icon=declaration.icon),
            **declaration.to_dify()}  # fmt: skip
    data["type"] = "builtin"
    data["author"] = declaration.author
    data["labels"] = list(declaration.tags)
    data["team_credentials"] = builtin_credentials_masked(provider, credential)
    data["is_team_authorization"] = credential is not None or not declaration.needs_credentials
    data["allow_delete"] = credential is not None
    data["tools"] = [t.declaration.to_dify(author=declaration.author) for t in provider.tools]
    return data


def api_credentials_masked(provider: ApiToolProvider) -> dict[str, Any]:
    credentials = selectors.api_tool_credentials(provider)
    if credentials["api_key_value"]:
        credentials["api_key_value"] = mask_secret(credentials["api_key_value"])
    return credentials


def api_provider_payload(provider: ApiToolProvider) -> dict[str, Any]:
    data = _base(
        id=str(provider.pk), name=provider.name, type="api", label=provider.name,
        description=provider.description, icon=provider.icon,
    )  # fmt: skip
    author = provider.created_by.get_username() if provider.created_by else ""
    data.update(
        author=author,
        labels=list(provider.labels or []),
        team_credentials=api_credentials_masked(provider),
        schema_type=provider.schema_type,
        privacy_policy=provider.privacy_policy,
        custom_disclaimer=provider.custom_disclaimer,
    )
    try:
        spec = selectors.api_tool_spec(provider)
    except ToolError as exc:  # saved documents parse; a changed parser could still refuse one
        data["error"] = str(exc)
    else:
        data["server_url"] = spec.server_url
        data["tools"] = [d.to_dify(author=author) for d in spec.declarations()]
    return data


def api_provider_detail(provider: ApiToolProvider) -> dict[str, Any]:
    """Dify's ``tool-provider/api/get``: the stored document and masked credentials too."""
    return {
        **api_provider_payload(provider),
        "schema": provider.schema,
        "credentials": api_credentials_masked(provider),
        "provider": provider.name,
    }


def workflow_provider_payload(provider: WorkflowToolProvider) -> dict[str, Any]:
    data = _base(
        id=str(provider.pk), name=provider.name, type="workflow", label=provider.label,
        description=provider.description, icon=provider.icon,
    )  # fmt: skip
    data.update(
        workflow_app_id=str(provider.app_id),
        workflow_tool_id=str(provider.pk),
        labels=list(provider.labels or []),
        privacy_policy=provider.privacy_policy,
        parameters=list(provider.parameters or []),
    )
    try:
        declaration = selectors.workflow_tool_declaration_get(provider)
    except ToolError as exc:
        data["error"] = str(exc)
        data["is_team_authorization"] = False
    else:
        data["tools"] = [declaration.to_dify()]
    return data


def mcp_headers_masked(provider: McpToolProvider) -> dict[str, str]:
    return {k: mask_secret(v) for k, v in selectors.mcp_headers(provider).items()}


def mcp_provider_payload(provider: McpToolProvider) -> dict[str, Any]:
    data = _base(
        id=str(provider.pk), name=provider.name, type="mcp", label=provider.name,
        description="", icon=provider.icon,
    )  # fmt: skip
    data.update(
        server_identifier=provider.server_identifier,
        server_url=provider.server_url,
        transport=provider.transport,
        timeout=provider.timeout,
        masked_headers=mcp_headers_masked(provider),
        is_team_authorization=bool(provider.tools) and not provider.last_error,
        tools=[d.to_dify() for d in selectors.mcp_tool_declarations(provider)],
        updated_at=_ts(provider.tools_updated_at or provider.updated_at),
        last_error=provider.last_error,
    )
    return data
