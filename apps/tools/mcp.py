"""MCP client: list and call the tools of a remote MCP server, from synchronous code.

Uses the official ``mcp`` SDK over streamable HTTP (the default) or SSE. Each call opens a
session, does its work and closes it, in a fresh event loop on a worker thread, so it is
safe from a thread with no loop and from code whose thread already runs one. One overall
deadline (``timeout``) covers connecting, the handshake and the request: nothing hangs.

SSRF: every connection goes through the httpx2 client that ``http_client_factory`` builds
(the SDK's ``McpHttpClientFactory`` shape: ``(headers=, timeout=, auth=) -> AsyncClient``).
The Django side passes the guarded one; without it the SDK's plain client is used, which
is only right for tests and trusted servers.

Failures (refused connection, timeout, a server that does not speak MCP, an unknown tool,
a tool answering ``isError``) raise ``ToolError`` with a readable message.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import McpHttpClientFactory, create_mcp_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from apps.tools.base import ToolDeclaration, ToolError, ToolParameter, ToolResult

__all__ = [
    "TRANSPORTS",
    "McpHttpClientFactory",
    "McpToolDeclaration",
    "call_tool",
    "list_tools",
    "parameters_from_schema",
]

Transport = Literal["streamable_http", "sse"]
TRANSPORTS: tuple[str, ...] = ("streamable_http", "sse")
MAX_LIST_PAGES = 50
_GRACE = 5.0  # seconds the worker thread may outlive the deadline before we give up on it
_T = TypeVar("_T")
_Streams = tuple[Any, Any]


@dataclass(frozen=True)
class McpToolDeclaration(ToolDeclaration):
    """A remote MCP tool: the usual declaration plus the tool's own ``inputSchema``, which
    is what the model sees (MCP schemas can say more than ``ToolParameter`` can)."""

    input_schema: Mapping[str, Any] = field(default_factory=dict)

    def llm_schema(self, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
        schema = json.loads(json.dumps(dict(self.input_schema)))  # a deep, JSON-clean copy
        schema["type"] = "object"
        properties = schema.setdefault("properties", {})
        for name in set(exclude):
            properties.pop(name, None)
        if "required" in schema:
            schema["required"] = [n for n in schema["required"] if n in properties]
        else:
            schema["required"] = []
        return schema


# -- public API ------------------------------------------------------------------------------
def list_tools(
    server_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    transport: str = "streamable_http",
    timeout: float = 30,
    http_client_factory: McpHttpClientFactory | None = None,
) -> list[McpToolDeclaration]:
    """The tools the MCP server at ``server_url`` offers (all pages)."""

    async def action(session: ClientSession) -> list[McpToolDeclaration]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return [declaration_from_mcp(tool) for tool in tools]

    return _run(server_url, action, headers, transport, timeout, http_client_factory)


def call_tool(
    server_url: str,
    tool_name: str,
    arguments: Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None = None,
    transport: str = "streamable_http",
    timeout: float = 60,
    http_client_factory: McpHttpClientFactory | None = None,
) -> ToolResult:
    """Call ``tool_name`` with ``arguments``; text content joined into ``text``, structured
    or JSON content into ``json``, images/audio/resources into ``files``. A result flagged
    ``isError`` raises ``ToolError`` with the server's message."""

    async def action(session: ClientSession) -> types.CallToolResult:
        return await session.call_tool(tool_name, dict(arguments or {}))

    result = _run(server_url, action, headers, transport, timeout, http_client_factory)
    return tool_result_from_mcp(tool_name, result)


# -- declarations ----------------------------------------------------------------------------
def declaration_from_mcp(tool: types.Tool) -> McpToolDeclaration:
    schema = dict(tool.input_schema or {})
    description = tool.description or ""
    return McpToolDeclaration(
        name=tool.name,
        label=tool.title or tool.name,
        description=description,
        llm_description=description,
        parameters=parameters_from_schema(schema),
        input_schema=schema,
    )


def parameters_from_schema(schema: Mapping[str, Any]) -> tuple[ToolParameter, ...]:
    """``ToolParameter`` views of a JSON schema's top-level properties (best effort: the
    raw schema stays the reference for the model)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parameters = []
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            prop = {}
        kind, options = _parameter_type(prop)
        default = prop.get("default")
        parameters.append(
            ToolParameter(
                name=str(name),
                type=kind,
                required=name in required,
                label=str(prop.get("title") or name),
                llm_description=str(prop.get("description") or prop.get("title") or ""),
                default=default if isinstance(default, (str, int, float, bool)) else None,
                options=options,
            )
        )
    return tuple(parameters)


_JSON_TO_PARAMETER = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


def _parameter_type(prop: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        return "select", tuple(enum)
    kinds = prop.get("type")
    if kinds is None:  # anyOf/oneOf: take the first non-null branch
        for branch in prop.get("anyOf") or prop.get("oneOf") or ():
            if isinstance(branch, Mapping) and branch.get("type") not in (None, "null"):
                return _parameter_type(branch)
    if isinstance(kinds, list):
        kinds = next((k for k in kinds if k != "null"), "string")
    return _JSON_TO_PARAMETER.get(str(kinds), "string"), ()


# -- results ---------------------------------------------------------------------------------
def tool_result_from_mcp(tool_name: str, result: types.CallToolResult) -> ToolResult:
    texts: list[str] = []
    json_items: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            texts.append(block.text)
            if result.structured_content is None:
                json_items.extend(_json_objects(block.text))
        elif isinstance(block, (types.ImageContent, types.AudioContent)):
            files.append(_file_entry(base64.b64decode(block.data), block.mime_type, ""))
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            name = str(resource.uri).rstrip("/").rsplit("/", 1)[-1]
            if isinstance(resource, types.TextResourceContents):
                mime = resource.mime_type or "text/plain"
                files.append(_file_entry(resource.text.encode(), mime, name))
            else:
                mime = resource.mime_type or "application/octet-stream"
                files.append(_file_entry(base64.b64decode(resource.blob), mime, name))
        elif isinstance(block, types.ResourceLink):
            files.append(
                {
                    "dify_model_identity": "__dify__file__",
                    "type": _file_type(block.mime_type or ""),
                    "transfer_method": "remote_url",
                    "url": str(block.uri),
                    "filename": block.name,
                    "mime_type": block.mime_type or "application/octet-stream",
                }
            )
    text = "\n".join(texts)
    if result.is_error:
        raise ToolError(f"MCP tool {tool_name!r} returned an error: {text or 'no message'}")
    if isinstance(result.structured_content, dict):
        json_items.append(result.structured_content)
    return ToolResult(text=text, json=json_items, files=files)


def _json_objects(text: str) -> list[dict[str, Any]]:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return []
    try:
        value = json.loads(stripped)
    except ValueError:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _file_type(mime: str) -> str:
    main = mime.split("/")[0]
    if main in ("image", "audio", "video"):
        return main
    return "document" if "text" in mime or "pdf" in mime else "custom"


def _file_entry(content: bytes, mime: str, name: str) -> dict[str, Any]:
    """A Dify file dict with the bytes riding along as ``content_base64`` (as the HTTP node
    hands files to the host)."""
    extension = ("." + name.rsplit(".", 1)[-1]) if "." in name else ""
    extension = extension or mimetypes.guess_extension(mime) or ""
    return {
        "dify_model_identity": "__dify__file__",
        "type": _file_type(mime),
        "transfer_method": "tool_file",
        "filename": name or f"file{extension}",
        "extension": extension,
        "mime_type": mime,
        "size": len(content),
        "content_base64": base64.b64encode(content).decode("ascii"),
    }


# -- sessions --------------------------------------------------------------------------------
def _run(
    server_url: str,
    action: Callable[[ClientSession], Awaitable[_T]],
    headers: Mapping[str, str] | None,
    transport: str,
    timeout: float,
    factory: McpHttpClientFactory | None,
) -> _T:
    if transport not in TRANSPORTS:
        raise ToolError(f"unknown MCP transport {transport!r}: use {' or '.join(TRANSPORTS)}")
    if not server_url.startswith(("http://", "https://")):
        raise ToolError(f"MCP server URL must be http(s): {server_url!r}")
    if timeout <= 0:
        raise ToolError("MCP timeout must be positive")

    async def main() -> _T:
        return await _session_call(
            server_url, action, dict(headers or {}), transport, timeout, factory
        )

    outcome: dict[str, Any] = {}

    def worker() -> None:
        try:
            outcome["value"] = anyio.run(main)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the calling thread)
            outcome["error"] = exc

    # A fresh loop on its own thread: never collides with a loop the caller's thread runs.
    thread = threading.Thread(target=worker, name="mcp-client", daemon=True)
    thread.start()
    thread.join(timeout + _GRACE)
    if thread.is_alive():
        raise ToolError(f"MCP server {server_url} did not answer within {timeout:g}s")
    if "error" in outcome:
        error = _tool_error(outcome["error"], server_url, timeout)
        if error is outcome["error"]:
            raise error
        raise error from outcome["error"]
    value: _T = outcome["value"]
    return value


async def _session_call(
    server_url: str,
    action: Callable[[ClientSession], Awaitable[_T]],
    headers: dict[str, str],
    transport: str,
    timeout: float,
    factory: McpHttpClientFactory | None,
) -> _T:
    transport_errors: list[Exception] = []
    with anyio.fail_after(timeout):
        with anyio.CancelScope() as scope:

            async def on_message(message: Any) -> None:
                # The SDK hands transport faults (bad HTTP status, unreadable stream) to the
                # message handler instead of failing the pending request: stop waiting.
                if isinstance(message, Exception):
                    transport_errors.append(message)
                    scope.cancel()

            streams = _open_transport(server_url, headers, transport, timeout, factory)
            async with (
                streams as (read_stream, write_stream),
                ClientSession(read_stream, write_stream, message_handler=on_message) as session,
            ):
                await session.initialize()
                return await action(session)
    if transport_errors:
        raise transport_errors[0]
    raise ToolError(f"MCP session with {server_url} was cancelled")


def _open_transport(
    server_url: str,
    headers: dict[str, str],
    transport: str,
    timeout: float,
    factory: McpHttpClientFactory | None,
) -> AbstractAsyncContextManager[_Streams]:
    make_client = factory or create_mcp_http_client
    if transport == "sse":
        return sse_client(
            server_url,
            headers=headers or None,
            timeout=timeout,
            sse_read_timeout=timeout,
            httpx_client_factory=make_client,
        )
    return _streamable(server_url, headers, timeout, make_client)


@asynccontextmanager
async def _streamable(
    server_url: str, headers: dict[str, str], timeout: float, make_client: McpHttpClientFactory
) -> Any:
    client = make_client(headers=headers or None, timeout=httpx2.Timeout(timeout))
    async with client, streamable_http_client(server_url, http_client=client) as streams:
        yield streams


# -- errors ----------------------------------------------------------------------------------
def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


def _tool_error(exc: BaseException, url: str, timeout: float) -> ToolError:
    leaves = list(_leaves(exc)) or [exc]
    # The most telling failure first: our own errors, then HTTP/JSON-RPC ones, then the rest.
    ranked = sorted(leaves, key=_rank)
    leaf = ranked[0]
    if isinstance(leaf, ToolError):
        return leaf
    if isinstance(leaf, (TimeoutError, httpx2.TimeoutException)):
        return ToolError(f"MCP server {url} did not answer within {timeout:g}s")
    if isinstance(leaf, httpx2.ConnectError):
        return ToolError(f"cannot connect to MCP server {url}: {leaf or 'connection failed'}")
    if isinstance(leaf, httpx2.HTTPStatusError):
        status = leaf.response.status_code
        hint = " (is this an MCP endpoint?)" if status in (404, 405, 406) else ""
        if status in (401, 403):
            hint = " (check the server's authorization headers)"
        return ToolError(f"MCP server {url} answered HTTP {status}{hint}")
    if isinstance(leaf, MCPError):
        return ToolError(f"MCP server {url} returned an error: {leaf.message}")
    if isinstance(leaf, (ValidationError, ValueError, json.JSONDecodeError)):
        return ToolError(f"{url} did not answer like an MCP server: {_short(leaf)}")
    if isinstance(leaf, httpx2.HTTPError):
        return ToolError(f"MCP request to {url} failed: {_short(leaf)}")
    return ToolError(f"MCP request to {url} failed: {_short(leaf)}")


def _rank(exc: BaseException) -> int:
    order: tuple[type[BaseException] | tuple[type[BaseException], ...], ...] = (
        ToolError,
        httpx2.HTTPStatusError,
        MCPError,
        httpx2.ConnectError,
        (TimeoutError, httpx2.TimeoutException),
        httpx2.HTTPError,
        Exception,
    )
    return next((i for i, kind in enumerate(order) if isinstance(exc, kind)), len(order))


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
