"""A small MCP server on 127.0.0.1 for tests (the official ``mcp`` SDK's server side).

    with FakeMCPServer() as server:
        tools = list_tools(server.streamable_http_url, http_client_factory=...)
        tools = list_tools(server.sse_url, transport="sse", http_client_factory=...)

One uvicorn loop in a background thread serves two apps built from one ``MCPServer``:
streamable HTTP on ``/mcp`` and SSE on ``/sse`` (+ ``/messages/``), each on its own port.

Tools: ``add(a, b)``, ``echo(text)``, ``fail()`` (raises, so the result has ``isError``),
``sleep(seconds)``, ``lookup(query, limit, tags, mode)`` (a richer input schema),
``weather(city)`` (structured content) and ``pixel()`` (an image). ``calls`` records
``(tool, arguments)`` and ``headers`` the request headers seen by the streamable app.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal, Self
from unittest import mock

import uvicorn
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# 1x1 transparent PNG
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

_Scope = MutableMapping[str, Any]
_ASGIApp = Callable[[_Scope, Any, Any], Awaitable[None]]


def build_server(calls: list[tuple[str, dict[str, Any]]]) -> MCPServer[Any]:
    # MCPServer() calls logging.basicConfig with a Rich handler: keep the test process's
    # logging as it is.
    with mock.patch("mcp.server.mcpserver.server.configure_logging"):
        server: MCPServer[Any] = MCPServer("fake-mcp", log_level="WARNING")

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> int:
        calls.append(("add", {"a": a, "b": b}))
        return a + b

    @server.tool(description="Echo the text back.")
    def echo(text: str) -> str:
        calls.append(("echo", {"text": text}))
        return text

    @server.tool(description="Always fails.")
    def fail() -> str:
        calls.append(("fail", {}))
        raise ToolError("the fake tool failed on purpose")

    @server.tool(description="Sleep, then answer.")
    async def sleep(seconds: float) -> str:
        calls.append(("sleep", {"seconds": seconds}))
        await asyncio.sleep(seconds)
        return "awake"

    @server.tool(description="Search the fake index.")
    def lookup(
        query: str,
        limit: int = 5,
        tags: list[str] | None = None,
        mode: Literal["fast", "deep"] = "fast",
    ) -> str:
        calls.append(("lookup", {"query": query, "limit": limit, "tags": tags, "mode": mode}))
        return f"{query}:{limit}:{','.join(tags or [])}:{mode}"

    @server.tool(description="Weather for a city, as structured content.")
    def weather(city: str) -> dict[str, Any]:
        calls.append(("weather", {"city": city}))
        return {"city": city, "temperature": 21.5, "sky": "clear"}

    @server.tool(description="A one-pixel PNG image.")
    def pixel() -> Image:
        calls.append(("pixel", {}))
        return Image(data=PIXEL_PNG, format="png")

    return server


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


class FakeMCPServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.mcp = build_server(self.calls)
        self._sockets = [_free_socket(), _free_socket()]
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None

    @property
    def streamable_http_url(self) -> str:
        return f"http://127.0.0.1:{self._sockets[0].getsockname()[1]}/mcp"

    @property
    def sse_url(self) -> str:
        return f"http://127.0.0.1:{self._sockets[1].getsockname()[1]}/sse"

    def _record_headers(self, app: _ASGIApp) -> _ASGIApp:
        async def wrapped(scope: _Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.headers.append(
                    {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                )
            await app(scope, receive, send)

        return wrapped

    def start(self) -> Self:
        apps: list[Any] = [
            self._record_headers(self.mcp.streamable_http_app()),
            self.mcp.sse_app(),
        ]
        lifespans: tuple[Literal["on", "off"], ...] = ("on", "off")
        for app, lifespan in zip(apps, lifespans, strict=True):
            config = uvicorn.Config(
                app, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=1
            )
            self._servers.append(uvicorn.Server(config))

        async def serve() -> None:
            await asyncio.gather(
                *(
                    s.serve(sockets=[sock])
                    for s, sock in zip(self._servers, self._sockets, strict=True)
                )
            )

        self._thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not all(s.started for s in self._servers):
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
