"""Helpers of the tool tests: the recording pet API (fixture in conftest), its OpenAPI
document, a built-in provider for tests, and graph apps built from a few nodes."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    CredentialField,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)


@dataclass
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


@dataclass
class PetServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server got no request"
        return self.requests[-1]


def start_pet_server() -> tuple[PetServer, Any]:
    """The server (recording into ``PetServer.requests``) and its http.server to shut down."""
    recorded: list[Recorded] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded.append(Recorded(self.command, parts.path, parse_qsl(parts.query), headers,
                                     body))  # fmt: skip
            if parts.path.startswith("/v1/missing"):
                self._send(404, {"error": "no such pet"})
                return
            self._send(200, {"ok": True, "method": self.command, "path": parts.path,
                             "query": dict(parse_qsl(parts.query)), "body": body})  # fmt: skip

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return PetServer(f"http://127.0.0.1:{server.server_address[1]}", recorded), server


def pet_schema(base_url: str) -> str:
    """An OpenAPI 3 document (JSON) for the pet server."""
    return json.dumps(
        {
            "openapi": "3.0.1",
            "info": {"title": "Pets", "description": "A pet API"},
            "servers": [{"url": f"{base_url}/v1"}],
            "paths": {
                "/pets/{petId}": {
                    "get": {
                        "operationId": "getPet",
                        "summary": "Find a pet",
                        "description": "Find a pet by id",
                        "parameters": [
                            {"name": "petId", "in": "path", "required": True,
                             "schema": {"type": "string"}, "description": "The pet id"},
                            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        ],
                    }
                },
                "/pets": {
                    "post": {
                        "operationId": "addPet",
                        "description": "Add a pet",
                        "requestBody": {"required": True, "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Pet"}}}},
                    }
                },
                "/missing": {"get": {"operationId": "missing"}},
            },
            "components": {
                "schemas": {
                    "Pet": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "description": "Its name"},
                            "age": {"type": "integer"},
                        },
                    }
                }
            },
        }
    )  # fmt: skip


def workflow_app(workspace: Any, nodes: list[dict[str, Any]], edges: list[tuple[str, str]],
                 *, name: str = "Tool workflow", mode: str = "workflow",
                 publish: bool = True) -> Any:  # fmt: skip
    """A graph app from ``nodes`` ([{"id", "type", ...data}]) and ``edges`` (source, target),
    imported as a Dify DSL file and published."""
    import yaml

    from apps.workflows.dsl_services import app_import_dsl
    from apps.workflows.run_services import workflow_publish

    graph = {
        "nodes": [
            {"id": n["id"], "type": "custom",
             "data": {"title": n["id"], **{k: v for k, v in n.items() if k != "id"}}}
            for n in nodes
        ],
        "edges": [
            {"id": f"{s}-{t}", "source": s, "target": t, "sourceHandle": "source",
             "targetHandle": "target"}
            for s, t in edges
        ],
    }  # fmt: skip
    document = {
        "kind": "app",
        "version": "0.3.0",
        "app": {"name": name, "mode": mode, "description": f"{name} (test)"},
        "workflow": {"graph": graph, "features": {}, "environment_variables": [],
                     "conversation_variables": []},
    }  # fmt: skip
    app = app_import_dsl(workspace=workspace, text=yaml.safe_dump(document)).app
    if publish:
        workflow_publish(app=app)
        app.refresh_from_db()
    return app


def end_node(**outputs: list[str]) -> dict[str, Any]:
    selectors = [{"variable": k, "value_selector": v} for k, v in outputs.items()]
    return {"id": "end", "type": "end", "outputs": selectors}


# -- a built-in provider for tests (registered by the ``acme`` fixture) ---------------------
ACME_KEY = "acme-key-0123456789abcdef"


class Whoami(BuiltinTool):
    declaration = ToolDeclaration(
        name="whoami", description="Who calls",
        parameters=(ToolParameter(name="shout", type="boolean"),),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        text = f"{ctx.credentials['api_key'][:4]}/{ctx.credentials['region']}/{ctx.user_id}"
        return ToolResult(text=text.upper() if parameters.get("shout") else text)


class AcmeProvider(BuiltinProvider):
    """Validates its key with a real request to ``base_url`` (the pet server)."""

    declaration = ProviderDeclaration(
        name="acme", label="Acme",
        credentials=(CredentialField("api_key"),
                     CredentialField("region", type="select", options=("eu", "us"),
                                     default="eu", required=False),
                     CredentialField("base_url", type="text-input")),
    )  # fmt: skip
    tools = (Whoami(),)

    def validate_credentials(self, credentials: Mapping[str, Any], ctx: ToolContext) -> None:
        super().validate_credentials(credentials, ctx)
        response = ctx.require_http().request(
            "GET", f"{credentials['base_url']}/v1/pets/check",
            headers={"X-Key": credentials["api_key"]},
        )  # fmt: skip
        if credentials["api_key"] != ACME_KEY or response.status_code != 200:
            raise ToolError("the key was refused")
