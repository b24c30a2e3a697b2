"""MCP calls made for a workspace: the pure client (``apps.tools.mcp``) with the SSRF-guarded
httpx2 client of ``apps.tools.outbound`` (settings' allow-lists apply)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

from apps.tools import mcp
from apps.tools.base import ToolDeclaration, ToolResult
from apps.tools.outbound import mcp_http_client

# the mcp SDK's defaults: 30 s to connect/write, 300 s to read a held-open stream
_DEFAULT_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


def guarded_mcp_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """The SDK's ``McpHttpClientFactory`` shape, over the guarded network backend."""
    kwargs: dict[str, Any] = {"timeout": timeout or _DEFAULT_TIMEOUT}
    if headers is not None:
        kwargs["headers"] = headers
    if auth is not None:
        kwargs["auth"] = auth
    client: httpx2.AsyncClient = mcp_http_client(**kwargs)
    return client


def mcp_list_tools(
    server_url: str, *, headers: Mapping[str, str], transport: str, timeout: float
) -> list[ToolDeclaration]:
    found = mcp.list_tools(
        server_url, headers=dict(headers), transport=transport, timeout=timeout,
        http_client_factory=guarded_mcp_client,
    )  # fmt: skip
    return list(found)


def mcp_call_tool(
    server_url: str,
    tool_name: str,
    arguments: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    transport: str,
    timeout: float,
) -> ToolResult:
    return mcp.call_tool(
        server_url, tool_name, arguments, headers=dict(headers), transport=transport,
        timeout=timeout, http_client_factory=guarded_mcp_client,
    )  # fmt: skip
