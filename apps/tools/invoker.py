"""The engine's ToolInvoker port for one workspace: built-in, custom API (OpenAPI), workflow
and MCP tools, found by Dify's DSL ``provider_type`` + ``provider_id`` + ``tool_name``.

Parameters are checked and converted against the tool's declaration, credentials are
decrypted here and only here, and every outbound request goes through the SSRF guard. A
provider of another workspace does not exist from this one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apps.tenants.models import Workspace
from apps.tools import openapi, selectors
from apps.tools.base import ToolContext, ToolDeclaration, ToolError, coerce_parameters
from apps.tools.builtin import builtin_providers
from apps.workflows.engine.ports import HttpClient, ToolResult

logger = logging.getLogger(__name__)

FILE_IDENTITY = "__dify__file__"
MAX_WORKFLOW_TOOL_DEPTH = 5
# Dify's DSL provider types; "plugin" ids name our built-ins (langgenius/time/time → time)
_KINDS = {"builtin": "builtin", "plugin": "builtin", "api": "api", "workflow": "workflow",
          "mcp": "mcp"}  # fmt: skip

Runner = Callable[[dict[str, Any], str | None], ToolResult]


@dataclass(frozen=True)
class ToolDescription:
    """What the agent node shows the model: ``parameters`` is the JSON schema of the
    parameters the model fills."""

    name: str
    description: str
    parameters: dict[str, Any]
    declaration: ToolDeclaration


@dataclass(frozen=True)
class _Found:
    declaration: ToolDeclaration
    run: Runner


class WorkspaceToolInvoker:
    def __init__(
        self,
        workspace: Workspace,
        *,
        http: HttpClient | None = None,
        call_stack: tuple[str, ...] = (),
    ):
        self.workspace = workspace
        self._http = http
        self.call_stack = call_stack  # app ids of the workflow tools running this one

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from apps.workflows.adapters.http import GuardedHttpPort

            self._http = GuardedHttpPort()
        return self._http

    # -- the port --------------------------------------------------------------------------
    def invoke(
        self,
        *,
        provider_type: str,
        provider_id: str,
        tool_name: str,
        parameters: Mapping[str, Any],
        user_id: str | None = None,
    ) -> ToolResult:
        found = self._find(provider_type, provider_id, tool_name)
        coerced = coerce_parameters(found.declaration, parameters)
        return found.run(coerced, user_id)

    def describe(
        self, provider_type: str, provider_id: str, tool_name: str
    ) -> ToolDescription | None:
        """The tool's description and parameter schema, or None when it cannot be found
        (the agent node then falls back to the schema stored in the DSL)."""
        try:
            declaration = self._find(provider_type, provider_id, tool_name).declaration
        except ToolError as exc:
            logger.info("describe %s/%s/%s: %s", provider_type, provider_id, tool_name, exc)
            return None
        return ToolDescription(
            name=declaration.name,
            description=declaration.llm_description or declaration.description,
            parameters=declaration.llm_schema(),
            declaration=declaration,
        )

    # -- lookup ----------------------------------------------------------------------------
    def _find(self, provider_type: str, provider_id: str, tool_name: str) -> _Found:
        kind = _KINDS.get(provider_type or "builtin")
        if kind is None:
            raise ToolError(f"tool provider type {provider_type!r} is not supported")
        finder = {
            "builtin": self._builtin,
            "api": self._api,
            "workflow": self._workflow,
            "mcp": self._mcp,
        }[kind]
        return finder(str(provider_id or ""), str(tool_name or ""))

    def _context(self, credentials: Mapping[str, Any], user_id: str | None) -> ToolContext:
        return ToolContext(
            credentials=credentials,
            user_id=user_id,
            http=self.http,
            workspace_id=str(self.workspace.pk),
        )

    def _builtin(self, provider_id: str, tool_name: str) -> _Found:
        provider = builtin_providers.get(provider_id)
        if provider is None:
            raise ToolError(f"built-in tool provider {provider_id!r} not found")
        tool = provider.tool(tool_name)
        if tool is None:
            raise ToolError(f"tool {tool_name!r} not found in provider {provider_id}")

        def run(parameters: dict[str, Any], user_id: str | None) -> ToolResult:
            credentials = selectors.builtin_credentials_for_run(
                workspace=self.workspace, provider=provider
            )
            return tool.invoke(parameters, self._context(credentials, user_id))

        return _Found(tool.declaration, run)

    def _api(self, provider_id: str, tool_name: str) -> _Found:
        provider = selectors.api_tool_provider_find(workspace=self.workspace, ref=provider_id)
        if provider is None:
            raise ToolError(f"API tool provider {provider_id!r} not found")
        spec = selectors.api_tool_spec(provider)
        operation = spec.operation(tool_name)
        if operation is None:
            raise ToolError(f"tool {tool_name!r} not found in API tool provider {provider.name}")

        def run(parameters: dict[str, Any], user_id: str | None) -> ToolResult:
            auth = openapi.ApiAuth.from_credentials(selectors.api_tool_credentials(provider))
            return openapi.invoke_operation(operation, parameters, http=self.http, auth=auth)

        return _Found(operation.declaration, run)

    def _workflow(self, provider_id: str, tool_name: str) -> _Found:
        provider = selectors.workflow_tool_provider_find(workspace=self.workspace, ref=provider_id)
        if provider is None:
            raise ToolError(f"workflow tool provider {provider_id!r} not found")
        declaration = selectors.workflow_tool_declaration_get(provider)

        def run(parameters: dict[str, Any], user_id: str | None) -> ToolResult:
            return self._run_workflow(provider.app, declaration.name, parameters, user_id)

        return _Found(declaration, run)

    def _mcp(self, provider_id: str, tool_name: str) -> _Found:
        provider = selectors.mcp_provider_find(workspace=self.workspace, ref=provider_id)
        if provider is None:
            raise ToolError(f"MCP tool provider {provider_id!r} not found")
        declaration = next(
            (d for d in selectors.mcp_tool_declarations(provider) if d.name == tool_name), None
        )
        if declaration is None:
            raise ToolError(
                f"tool {tool_name!r} not found on MCP server {provider.name} (refresh its tools?)"
            )

        def run(parameters: dict[str, Any], user_id: str | None) -> ToolResult:
            from apps.tools.mcp_calls import mcp_call_tool

            return mcp_call_tool(
                provider.server_url,
                tool_name,
                parameters,
                headers=selectors.mcp_headers(provider),
                transport=provider.transport,
                timeout=provider.timeout,
            )

        return _Found(declaration, run)

    # -- workflow as a tool ----------------------------------------------------------------
    def _run_workflow(
        self, app: Any, name: str, parameters: dict[str, Any], user_id: str | None
    ) -> ToolResult:
        from apps.workflows.run_services import workflow_run_start

        app_id = str(app.pk)
        if app_id in self.call_stack:
            raise ToolError(f"workflow tool {name} calls itself (depth {len(self.call_stack)})")
        if len(self.call_stack) >= MAX_WORKFLOW_TOOL_DEPTH:
            raise ToolError(f"workflow tools nest deeper than {MAX_WORKFLOW_TOOL_DEPTH} levels")
        if app.published_workflow is None:
            raise ToolError(f"workflow tool {name}: the app is not published")
        handle = workflow_run_start(
            app=app, inputs=parameters, user_id=user_id or "", workflow=app.published_workflow,
            triggered_from="app-run",
        )  # fmt: skip
        handle.runner.ports.tool_invoker = WorkspaceToolInvoker(
            self.workspace, http=self._http, call_stack=(*self.call_stack, app_id)
        )
        for _event in handle.events():
            pass
        finished = handle.finished
        if finished is None or finished.status == "failed":
            error = (finished.error if finished else None) or "the workflow did not finish"
            raise ToolError(f"workflow tool {name} failed: {error}")
        outputs = dict(finished.outputs or {})
        return ToolResult(
            text=json.dumps(outputs, ensure_ascii=False, default=str),
            json=[outputs],
            files=_files(outputs),
        )


def _files(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for value in outputs.values():
        items = value if isinstance(value, list) else [value]
        found += [
            item
            for item in items
            if isinstance(item, dict) and item.get("dify_model_identity") == FILE_IDENTITY
        ]
    return found
