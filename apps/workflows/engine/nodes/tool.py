"""tool: calls a tool through the ToolInvoker port; outputs ``text``, ``files``, ``json``.

Parameters: ``tool_configurations`` (constants set in the editor) merged with
``tool_parameters`` {name: {type: mixed|variable|constant, value}}: mixed is a
``{{#…#}}`` template, variable a selector, constant used as it is. Newer DSL files may
also store configurations as such {type, value} objects; both forms are accepted. Which
tools exist is the invoker's business: an unknown tool fails at run time, not at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import NodeError
from ..ports import ToolInvoker, ToolResult
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext, StreamChunk

PROVIDER_TYPES = frozenset(
    {"builtin", "api", "workflow", "mcp", "plugin", "app", "dataset-retrieval"}
)
INPUT_TYPES = frozenset({"mixed", "variable", "constant"})
_MISSING = object()


@register
class ToolNode(Node):
    node_type = "tool"
    streamed_outputs = ("text",)

    def parse(self) -> None:
        self.provider_id: str = self.require("provider_id", str)
        self.tool_name: str = self.require("tool_name", str)
        self.provider_type = str(self.data.get("provider_type") or "builtin")
        if self.provider_type not in PROVIDER_TYPES:
            raise self.fail_config("provider_type", f"unknown provider type {self.provider_type!r}")
        self.provider_name = str(self.data.get("provider_name") or self.provider_id)
        configurations = self.data.get("tool_configurations") or {}
        if not isinstance(configurations, dict):
            raise self.fail_config("tool_configurations", "must be an object")
        self.configurations: dict[str, Any] = {
            name: self._parse_input(f"tool_configurations.{name}", value, required=False)
            for name, value in configurations.items()
        }
        parameters = self.data.get("tool_parameters") or {}
        if not isinstance(parameters, dict):
            raise self.fail_config("tool_parameters", "must be an object")
        self.parameters: dict[str, Any] = {
            name: self._parse_input(f"tool_parameters.{name}", value, required=True)
            for name, value in parameters.items()
        }

    def _parse_input(self, field: str, raw: Any, *, required: bool) -> Any:
        """A {type, value} input as (type, value); a bare configuration value as constant."""
        if not isinstance(raw, dict) or not ({"type", "value"} <= raw.keys() or required):
            return ("constant", raw)
        kind, value = raw.get("type"), raw.get("value")
        if kind not in INPUT_TYPES:
            if not required:
                return ("constant", raw)
            raise self.fail_config(f"{field}.type", "must be mixed, variable or constant")
        if kind == "mixed" and not isinstance(value, str):
            raise self.fail_config(f"{field}.value", "must be a string template")
        if kind == "variable":
            value = self.selector(f"{field}.value", value)
        return (kind, value)

    def _resolve(self, pool: VariablePool, inputs: dict[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for name, (kind, value) in inputs.items():
            if kind == "mixed":
                resolved[name] = pool.render(value)
            elif kind == "variable":
                found = pool.get_or(value, _MISSING)
                if found is not _MISSING:  # Dify leaves out unset optional variables
                    resolved[name] = found
            else:
                resolved[name] = value
        return resolved

    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[StreamChunk | NodeResult]:
        parameters = {
            **self._resolve(pool, self.configurations),
            **self._resolve(pool, self.parameters),
        }
        invoker: ToolInvoker = self.port(ctx, "tool_invoker")
        tool_info = {
            "provider_type": self.provider_type,
            "provider_id": self.provider_id,
            "tool_name": self.tool_name,
        }
        try:
            result = invoker.invoke(
                provider_type=self.provider_type,
                provider_id=self.provider_id,
                tool_name=self.tool_name,
                parameters=parameters,
                user_id=ctx.user_id or None,
            )
        except Exception as exc:
            raise NodeError(f"tool invoke error: {self._describe_error(exc)}") from exc
        if not isinstance(result, ToolResult):
            raise NodeError(f"tool invoke error: {self.tool_name} returned {type(result)!r}")
        if result.text:
            yield StreamChunk(selector=(self.id, "text"), text=result.text)
        yield NodeResult(
            inputs=parameters,
            outputs={"text": result.text, "files": list(result.files), "json": list(result.json)},
            metadata={"tool_info": tool_info},
        )

    def _describe_error(self, exc: Exception) -> str:
        message = str(exc) or type(exc).__name__
        if self.tool_name not in message:
            message = f"{self.provider_id}/{self.tool_name}: {message}"
        return message
