"""The MCP client against a real MCP server (the SDK's server side) on 127.0.0.1, over
streamable HTTP and SSE, plus the ways a connection can fail."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from apps.tools.base import ToolError, coerce_parameters
from apps.tools.guarded_httpx import guarded_async_httpx_client
from apps.tools.http_guard import GuardPolicy
from apps.tools.mcp import McpToolDeclaration, call_tool, list_tools
from tests.fakes.mcp_server import PIXEL_PNG, FakeMCPServer

TRANSPORTS = ["streamable_http", "sse"]


def plain_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """Stands in for the guarded client factory (loopback is what the guard refuses)."""
    return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth)


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[FakeMCPServer]:
    with FakeMCPServer() as server:
        yield server


def url_for(server: FakeMCPServer, transport: str) -> str:
    return server.sse_url if transport == "sse" else server.streamable_http_url


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_list_tools_turns_schemas_into_declarations(mcp_server, transport):
    tools = list_tools(
        url_for(mcp_server, transport), transport=transport, http_client_factory=plain_client
    )
    by_name = {tool.name: tool for tool in tools}
    assert {"add", "echo", "fail", "sleep", "lookup", "weather", "pixel"} <= set(by_name)
    add = by_name["add"]
    assert isinstance(add, McpToolDeclaration)
    assert add.description == "Add two integers."
    assert [(p.name, p.type, p.required) for p in add.parameters] == [
        ("a", "number", True),
        ("b", "number", True),
    ]
    lookup = by_name["lookup"]
    params = {p.name: p for p in lookup.parameters}
    assert params["query"].required and params["query"].type == "string"
    assert params["limit"].type == "number" and params["limit"].default == 5
    assert params["tags"].type == "array" and not params["tags"].required
    assert params["mode"].type == "select" and params["mode"].options == ("fast", "deep")


def test_the_model_sees_the_tools_own_input_schema(mcp_server):
    tools = list_tools(mcp_server.streamable_http_url, http_client_factory=plain_client)
    lookup = next(t for t in tools if t.name == "lookup")
    schema = lookup.llm_schema()
    assert schema["properties"]["tags"]["anyOf"][0] == {
        "items": {"type": "string"},
        "type": "array",
    }
    assert schema["required"] == ["query"]
    trimmed = lookup.llm_schema(exclude=["query"])
    assert "query" not in trimmed["properties"] and trimmed["required"] == []
    assert "query" in lookup.input_schema["properties"]  # the copy was trimmed, not the original
    assert lookup.to_dify()["name"] == "lookup"
    assert coerce_parameters(lookup, {"query": "x", "limit": "3"})["limit"] == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_call_tool_returns_text_and_json(mcp_server, transport):
    url = url_for(mcp_server, transport)
    result = call_tool(
        url, "add", {"a": 2, "b": 40}, transport=transport, http_client_factory=plain_client
    )
    assert result.text == "42"
    assert result.json == [{"result": 42}]
    assert ("add", {"a": 2, "b": 40}) in mcp_server.calls
    weather = call_tool(
        url, "weather", {"city": "Oslo"}, transport=transport, http_client_factory=plain_client
    )
    assert weather.json == [{"city": "Oslo", "temperature": 21.5, "sky": "clear"}]
    assert '"city": "Oslo"' in weather.text


def test_call_tool_returns_images_as_files(mcp_server):
    result = call_tool(
        mcp_server.streamable_http_url, "pixel", {}, http_client_factory=plain_client
    )
    assert result.text == ""
    (file,) = result.files
    assert file["type"] == "image" and file["mime_type"] == "image/png"
    assert file["size"] == len(PIXEL_PNG) and file["filename"].endswith(".png")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tool_error_result_raises_with_the_servers_message(mcp_server, transport):
    with pytest.raises(ToolError, match="the fake tool failed on purpose"):
        call_tool(
            url_for(mcp_server, transport), "fail", {}, transport=transport,
            http_client_factory=plain_client,
        )  # fmt: skip


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_tool_raises(mcp_server, transport):
    with pytest.raises(ToolError, match="Unknown tool: nope"):
        call_tool(
            url_for(mcp_server, transport), "nope", {}, transport=transport,
            http_client_factory=plain_client,
        )  # fmt: skip


def test_headers_reach_the_server(mcp_server):
    call_tool(
        mcp_server.streamable_http_url, "echo", {"text": "hi"},
        headers={"Authorization": "Bearer secret-token"}, http_client_factory=plain_client,
    )  # fmt: skip
    assert any(h.get("authorization") == "Bearer secret-token" for h in mcp_server.headers)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_tool_times_out_instead_of_hanging(mcp_server, transport):
    started = time.monotonic()
    with pytest.raises(ToolError, match="did not answer within 1s"):
        call_tool(
            url_for(mcp_server, transport), "sleep", {"seconds": 10}, transport=transport,
            timeout=1, http_client_factory=plain_client,
        )  # fmt: skip
    assert time.monotonic() - started < 4


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_refused_connection_is_a_clear_error(transport):
    url = f"http://127.0.0.1:{_unused_port()}/mcp"
    with pytest.raises(ToolError, match="cannot connect to MCP server"):
        list_tools(url, transport=transport, timeout=5, http_client_factory=plain_client)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_that_never_answers_times_out(transport):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/mcp"
        started = time.monotonic()
        with pytest.raises(ToolError, match="did not answer within 1s"):
            list_tools(url, transport=transport, timeout=1, http_client_factory=plain_client)
        assert time.monotonic() - started < 4


@pytest.fixture
def web_page() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _page(self) -> None:
            body = b"<html><body>not an MCP server</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _page

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_non_mcp_server_fails_fast(web_page, transport):
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"text/html|MCP"):
        list_tools(web_page, transport=transport, timeout=10, http_client_factory=plain_client)
    assert time.monotonic() - started < 5


def test_wrong_path_and_wrong_transport_fail_fast(mcp_server):
    with pytest.raises(ToolError, match=r"Not Found|404"):
        list_tools(
            mcp_server.streamable_http_url.replace("/mcp", "/elsewhere"), timeout=10,
            http_client_factory=plain_client,
        )  # fmt: skip
    with pytest.raises(ToolError, match="HTTP 4"):
        list_tools(
            mcp_server.streamable_http_url, transport="sse", timeout=10,
            http_client_factory=plain_client,
        )  # fmt: skip


def test_bad_arguments_are_refused_before_connecting():
    with pytest.raises(ToolError, match="unknown MCP transport"):
        list_tools("http://127.0.0.1:1/mcp", transport="stdio")
    with pytest.raises(ToolError, match="must be http"):
        list_tools("file:///etc/passwd")


def test_factory_refusal_becomes_a_tool_error(mcp_server):
    class Refused(Exception):
        pass

    def refusing_factory(**kwargs: Any) -> httpx2.AsyncClient:
        raise Refused("requests to 127.0.0.1 are not allowed: internal address")

    with pytest.raises(ToolError, match="internal address"):
        list_tools(mcp_server.streamable_http_url, http_client_factory=refusing_factory)
    with pytest.raises(ToolError, match="internal address"):
        list_tools(mcp_server.sse_url, transport="sse", http_client_factory=refusing_factory)


def guarded_factory(policy: GuardPolicy) -> Any:
    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return guarded_async_httpx_client(lambda: policy, headers=headers, timeout=timeout)

    return factory


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_through_the_ssrf_guard_loopback_needs_the_allow_list(mcp_server, transport):
    url = url_for(mcp_server, transport)
    with pytest.raises(ToolError, match="internal address"):
        list_tools(url, transport=transport, http_client_factory=guarded_factory(GuardPolicy()))
    allowed = guarded_factory(GuardPolicy.from_lists(networks=["127.0.0.0/8"]))
    result = call_tool(
        url, "echo", {"text": "guarded"}, transport=transport, http_client_factory=allowed
    )
    assert result.text == "guarded"


def test_callable_from_a_thread_whose_loop_is_running(mcp_server):
    async def inside_a_loop() -> str:
        result = call_tool(
            mcp_server.streamable_http_url, "echo", {"text": "from a loop"},
            http_client_factory=plain_client,
        )  # fmt: skip
        return result.text

    assert asyncio.run(inside_a_loop()) == "from a loop"

    answers: list[str] = []

    def worker() -> None:
        answers.append(
            call_tool(
                mcp_server.sse_url, "echo", {"text": "from a thread"}, transport="sse",
                http_client_factory=plain_client,
            ).text
        )  # fmt: skip

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == ["from a thread"] * 3
