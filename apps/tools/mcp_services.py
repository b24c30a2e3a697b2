"""Writes of MCP tool providers (re-exported by ``apps.tools.services``): the server's tools
are listed with a real call (through the SSRF guard) before anything is saved."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import InvalidParam
from apps.tenants.crypto import encrypt_json, mask_secret
from apps.tenants.models import Workspace
from apps.tools import openapi, selectors
from apps.tools.base import ToolDeclaration, ToolError
from apps.tools.codec import declaration_to_json
from apps.tools.http_guard import BlockedRequestError
from apps.tools.models import McpToolProvider

MCP_TIMEOUT_LIMITS = (1.0, 600.0)


def mcp_provider_connect(
    server_url: str, headers: Mapping[str, str], transport: str, timeout: float
) -> list[ToolDeclaration]:
    """List the tools of an MCP server (a real call; nothing is saved)."""
    from apps.tools.mcp_calls import mcp_list_tools

    try:
        return mcp_list_tools(server_url, headers=headers, transport=transport, timeout=timeout)
    except (ToolError, BlockedRequestError) as exc:
        raise InvalidParam(f"cannot list the MCP server's tools: {exc}") from exc


def _mcp_fields(
    *, server_url: str, transport: str, timeout: float, server_identifier: str, name: str
) -> dict[str, Any]:
    if not openapi.is_absolute_url(server_url):
        raise InvalidParam("server_url: an absolute http(s) URL is required")
    if transport not in McpToolProvider.Transport.values:
        raise InvalidParam("transport: must be streamable_http or sse")
    low, high = MCP_TIMEOUT_LIMITS
    if not low <= float(timeout) <= high:
        raise InvalidParam(f"timeout: between {low:g} and {high:g} seconds")
    identifier = server_identifier.strip() or re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    if not identifier or len(identifier) > 64 or not re.fullmatch(r"[a-z0-9_-]+", identifier):
        raise InvalidParam("server_identifier: lowercase letters, digits, _ and - (at most 64)")
    if not name.strip():
        raise InvalidParam("name: required")
    return {
        "server_url": server_url,
        "transport": transport,
        "timeout": float(timeout),
        "server_identifier": identifier,
        "name": name.strip(),
    }


def mcp_headers_clean(
    submitted: Mapping[str, Any] | None, previous: Mapping[str, str]
) -> dict[str, str]:
    """Submitted headers; a value still shown masked keeps the stored one (None: unchanged)."""
    if submitted is None:
        return dict(previous)
    headers: dict[str, str] = {}
    for key, value in submitted.items():
        key, text = str(key).strip(), str(value or "")
        if not key:
            continue
        old = previous.get(key)
        headers[key] = old if old and text == mask_secret(old) else text
    return headers


def _mcp_save(provider: McpToolProvider) -> McpToolProvider:
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError as exc:
        raise InvalidParam(
            f"an MCP server named {provider.name!r} or with identifier "
            f"{provider.server_identifier!r} already exists"
        ) from exc
    return provider


def mcp_provider_create(
    *,
    workspace: Workspace,
    name: str,
    server_url: str,
    headers: Mapping[str, Any] | None = None,
    transport: str = "streamable_http",
    timeout: float = 30.0,
    server_identifier: str = "",
    icon: Any = None,
    created_by: User | None = None,
    tools: Sequence[ToolDeclaration] | None = None,
) -> McpToolProvider:
    """Lists the server's tools first (unless ``tools`` were just listed by the caller)."""
    fields = _mcp_fields(
        server_url=server_url, transport=transport, timeout=timeout,
        server_identifier=server_identifier, name=name,
    )  # fmt: skip
    clean_headers = mcp_headers_clean(headers or {}, {})
    if tools is None:
        tools = mcp_provider_connect(
            fields["server_url"], clean_headers, fields["transport"], fields["timeout"]
        )
    provider = McpToolProvider(
        workspace=workspace, icon=icon or {}, created_by=created_by,
        encrypted_headers=encrypt_json(clean_headers) if clean_headers else "",
        tools=[declaration_to_json(t) for t in tools], tools_updated_at=timezone.now(),
        **fields,
    )  # fmt: skip
    return _mcp_save(provider)


def mcp_provider_update(
    *,
    provider: McpToolProvider,
    name: str | None = None,
    server_url: str | None = None,
    headers: Mapping[str, Any] | None = None,
    transport: str | None = None,
    timeout: float | None = None,
    server_identifier: str | None = None,
    icon: Any = None,
    tools: Sequence[ToolDeclaration] | None = None,
) -> McpToolProvider:
    """Changes to the connection (URL, headers, transport) list the tools again first
    (unless ``tools`` were just listed by the caller)."""
    fields = _mcp_fields(
        server_url=server_url if server_url is not None else provider.server_url,
        transport=transport or provider.transport,
        timeout=timeout if timeout is not None else provider.timeout,
        server_identifier=(
            server_identifier if server_identifier is not None else provider.server_identifier
        ),
        name=name if name is not None else provider.name,
    )
    previous = selectors.mcp_headers(provider)
    clean_headers = mcp_headers_clean(headers, previous)
    reconnect = (
        clean_headers != previous
        or fields["server_url"] != provider.server_url
        or fields["transport"] != provider.transport
    )
    if reconnect or tools is not None:
        if tools is None:
            tools = mcp_provider_connect(
                fields["server_url"], clean_headers, fields["transport"], fields["timeout"]
            )
        provider.tools = [declaration_to_json(t) for t in tools]
        provider.tools_updated_at = timezone.now()
        provider.last_error = ""
    for field_name, value in fields.items():
        setattr(provider, field_name, value)
    provider.encrypted_headers = encrypt_json(clean_headers) if clean_headers else ""
    if icon is not None:
        provider.icon = icon
    return _mcp_save(provider)


def mcp_provider_refresh(*, provider: McpToolProvider) -> McpToolProvider:
    """List the server's tools again and keep them; a failure is recorded and raised."""
    try:
        tools = mcp_provider_connect(
            provider.server_url, selectors.mcp_headers(provider), provider.transport,
            provider.timeout,
        )  # fmt: skip
    except InvalidParam as exc:
        provider.last_error = exc.message
        provider.save(update_fields=["last_error", "updated_at"])
        raise
    provider.tools = [declaration_to_json(t) for t in tools]
    provider.tools_updated_at = timezone.now()
    provider.last_error = ""
    provider.save(update_fields=["tools", "tools_updated_at", "last_error", "updated_at"])
    return provider


def mcp_provider_delete(*, provider: McpToolProvider) -> None:
    provider.delete()
