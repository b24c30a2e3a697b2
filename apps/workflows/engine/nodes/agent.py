"""agent: Dify runs an agent strategy plugin here; we run the two built-in strategies of
``langgenius/agent`` ourselves: ``function_calling`` (native tool calls) and ``ReAct``
(Thought / Action / Action Input / Observation in text). Tools run through the
``tool_invoker`` port; each round is reported as AgentLog events and the answer streams."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.providers.runtime.base import ChatMessage, ToolSpec

from ..agent_loop import (
    STRATEGIES,
    AgentLoop,
    AgentRound,
    AgentStopped,
    TextDelta,
    schema_without,
)
from ..agent_loop import AgentTool as BoundTool
from ..errors import NodeError
from ..events import AgentLog
from ..ports import ToolResult
from ..variables import VariablePool, to_text
from . import register
from .base import Node, NodeResult, RunContext, StreamChunk
from .prompting import history_messages, model_errors, parse_memory, parse_model, usage_dict

DEFAULT_ITERATIONS = 3  # the langgenius/agent strategies' default
MAX_ITERATIONS = 99


@dataclass
class AgentTool:
    name: str  # as the model sees it
    tool_name: str
    provider_id: str
    provider_type: str
    description: str
    fixed: dict[str, Any]  # parameters set in the node (auto: 0) and settings
    schemas: list[Any] = field(default_factory=list)


@register
class AgentNode(Node):
    node_type = "agent"
    streamed_outputs = ("text",)

    def parse(self) -> None:
        raw_name = str(self.data.get("agent_strategy_name") or "function_calling")
        strategy = STRATEGIES.get(raw_name.lower().replace("-", "_"))
        if strategy is None:
            raise self.fail_config(
                "agent_strategy_name",
                f"unsupported strategy {raw_name!r} (function_calling, ReAct)",
            )
        self.strategy = strategy
        params = self.data.get("agent_parameters") or {}
        if not isinstance(params, Mapping):
            raise self.fail_config("agent_parameters", "must be an object")
        self.params = params
        model = self._input("model")
        if model is None:
            raise self.fail_config("agent_parameters.model", "is required")
        self.model = parse_model(self, "agent_parameters.model.value", model)
        tools = self._input("tools") or []
        if not isinstance(tools, list):
            raise self.fail_config("agent_parameters.tools.value", "must be a list of tools")
        self.tools = [self._tool(i, t) for i, t in enumerate(tools) if _enabled(t)]
        iterations = self._input("maximum_iterations")
        iterations = self._input("max_iterations") if iterations is None else iterations
        try:
            self.max_iterations = int(iterations or DEFAULT_ITERATIONS)
        except (TypeError, ValueError) as exc:
            raise self.fail_config("agent_parameters.maximum_iterations", "not a number") from exc
        self.max_iterations = max(1, min(self.max_iterations, MAX_ITERATIONS))
        self.memory = parse_memory(self)

    def _input(self, name: str) -> Any:
        item = self.params.get(name)
        return item.get("value") if isinstance(item, Mapping) and "value" in item else item

    def _tool(self, index: int, raw: Any) -> AgentTool:
        where = f"agent_parameters.tools.value[{index}]"
        if not isinstance(raw, Mapping) or not raw.get("tool_name"):
            raise self.fail_config(f"{where}.tool_name", "is required")
        fixed: dict[str, Any] = {}
        for key, value in (raw.get("parameters") or raw.get("tool_parameters") or {}).items():
            if isinstance(value, Mapping) and "auto" in value:
                if not value.get("auto"):  # auto: 0 → the value set in the node
                    inner = value.get("value")
                    fixed[key] = inner.get("value") if isinstance(inner, Mapping) else inner
            elif value is not None:
                fixed[key] = value
        for key, value in (raw.get("settings") or {}).items():
            fixed[key] = value.get("value") if isinstance(value, Mapping) else value
        extra = raw.get("extra") or {}
        description = (isinstance(extra, Mapping) and extra.get("description")) or raw.get(
            "tool_description"
        )
        provider = raw.get("provider_name") or raw.get("provider_id") or ""
        return AgentTool(
            name=str(raw["tool_name"]),
            tool_name=str(raw["tool_name"]),
            provider_id=str(provider),
            provider_type=str(raw.get("provider_type") or raw.get("type") or "builtin"),
            description=str(description or raw.get("tool_label") or raw["tool_name"]),
            fixed=fixed,
            schemas=list(raw.get("schemas") or []),
        )

    # -- running ---------------------------------------------------------------------------
    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[Any]:
        instruction = _render(pool, self._input("instruction"))
        query = _render(pool, self._input("query"))
        loop = AgentLoop(
            runtime=self.port(ctx, "model_runtime"),
            strategy=self.strategy,
            tools=[self._bound(ctx, tool) for tool in self.tools],
            model_kwargs=self._kw(ctx),
            max_iterations=self.max_iterations,
            should_stop=ctx.should_stop,
        )
        messages = [ChatMessage.system(instruction)] if instruction else []
        messages += history_messages(ctx, self.memory)
        messages.append(ChatMessage.user(query))
        events = loop.run(messages)
        try:
            with model_errors():
                for event in events:
                    if isinstance(event, TextDelta):
                        yield StreamChunk((self.id, "text"), event.text)
                    else:
                        yield from self._logs(event)
        except AgentStopped as exc:
            raise NodeError("stopped") from exc
        outcome = loop.outcome
        used = usage_dict(outcome.usage)
        inputs = {
            "strategy": self.strategy,
            "query": query,
            "instruction": instruction,
            "model": self.model.info(),
            "tools": [t.name for t in self.tools],
            "maximum_iterations": self.max_iterations,
        }
        outputs = {"text": outcome.text, "files": [], "json": outcome.json, "usage": used}
        yield NodeResult(outputs=outputs, inputs=inputs, usage=used)

    def _bound(self, ctx: RunContext, tool: AgentTool) -> BoundTool:
        spec = self._spec(ctx, tool)

        def call(args: dict[str, Any]) -> ToolResult:
            result: ToolResult = self.port(ctx, "tool_invoker").invoke(
                provider_type=tool.provider_type,
                provider_id=tool.provider_id,
                tool_name=tool.tool_name,
                parameters={**args, **tool.fixed},
                user_id=ctx.user_id or None,
            )
            return result

        return BoundTool(spec.name, spec.description, spec.parameters, call)

    def _logs(self, event: AgentRound) -> Iterator[AgentLog]:
        if not event.uses:
            yield self._log(event.number, event.thought, None, None, None)
        for use in event.uses:
            yield self._log(event.number, event.thought, use.tool, use.input, use.observation)

    def _spec(self, ctx: RunContext, tool: AgentTool) -> ToolSpec:
        described = None
        describe = getattr(ctx.ports.tool_invoker, "describe", None)
        if callable(describe):
            described = describe(tool.provider_type, tool.provider_id, tool.tool_name)
        raw = described.parameters if described is not None else _schema_from_dify(tool.schemas)
        schema = schema_without(raw, tool.fixed)
        description = tool.description or (described.description if described else "")
        return ToolSpec(tool.name, description, schema)

    def _kw(self, ctx: RunContext) -> dict[str, Any]:
        return {
            "provider": self.model.provider,
            "model": self.model.name,
            "parameters": self.model.params,
            "user": ctx.user_id or None,
        }

    def _log(
        self, round_no: int, thought: str, tool: str | None, args: Any, observation: str | None
    ) -> AgentLog:
        data = {"round": round_no, "thought": thought, "tool": tool, "input": args}
        data["observation"] = observation
        return AgentLog(node_id=self.id, execution_id="", label=f"ROUND {round_no}", data=data)


def _enabled(raw: Any) -> bool:
    return isinstance(raw, Mapping) and bool(raw.get("enabled", False))


def _render(pool: VariablePool, value: Any) -> str:
    return pool.render(value) if isinstance(value, str) else to_text(value)


_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def _schema_from_dify(schemas: list[Any]) -> dict[str, Any]:
    """A JSON schema from a Dify tool's parameter list (``schemas``, form ``llm`` only);
    a permissive object schema when there is none."""
    properties: dict[str, Any] = {}
    required = []
    for item in schemas:
        if not isinstance(item, Mapping) or not item.get("name") or item.get("form") == "form":
            continue
        kind = str(item.get("type") or "string")
        entry: dict[str, Any] = {"type": kind if kind in _JSON_TYPES else "string"}
        entry["description"] = str(item.get("llm_description") or "")
        options = [o.get("value") for o in item.get("options") or [] if isinstance(o, Mapping)]
        if options:
            entry["enum"] = options
        properties[str(item["name"])] = entry
        if item.get("required"):
            required.append(str(item["name"]))
    if not properties:
        return {"type": "object", "properties": {}}
    return {"type": "object", "properties": properties, "required": required}
