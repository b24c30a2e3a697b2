"""agent-chat apps: the agent loop (engine/agent_loop.py) over the app's tools.

The app's ``model_config.agent_mode`` is Dify's: ``enabled``, ``strategy``
(``function_call`` | ``react``), ``max_iteration`` and ``tools`` (each ``provider_type``,
``provider_id``, ``tool_name``, ``tool_parameters`` fixed in the app, ``enabled``). The tools
are resolved before the answer starts (an unknown tool is a 400, not a broken stream).

Events per round, as Dify sends them: an ``agent_thought`` opens the round (empty), the
model's text streams as ``agent_message``, and an ``agent_thought`` with the same id closes
it with the thought, the tool(s) called, their input and observation (several calls of one
round are joined like Dify: tools by ``;``, input and observation as JSON objects by tool).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from apps.core.errors import AppError, InvalidParam
from apps.providers.runtime.base import estimate_tokens
from apps.providers.services import WorkspaceModelRuntime
from apps.tenants.models import Workspace
from apps.workflows.engine.agent_loop import (
    STRATEGIES,
    AgentLoop,
    AgentRound,
    AgentStopped,
    AgentTool,
    TextDelta,
    schema_without,
)
from apps.workflows.engine.ports import ToolResult
from apps.workflows.models import App, Message
from apps.workflows.moderation import Moderation, OutputGuard

from .dataset_tools import DatasetCitations, dataset_tools
from .records import message_finish, usage_payload
from .simple import ModelCall, message_end, replace_event
from .task import ChatTask

logger = logging.getLogger(__name__)
DEFAULT_MAX_ITERATIONS = 5  # Dify's default for agent-chat apps
MAX_ITERATIONS = 99


@dataclass(frozen=True)
class AgentConfig:
    strategy: str
    max_iterations: int
    tools: tuple[AgentTool, ...]
    citations: DatasetCitations | None = None


def agent_with_datasets(config: AgentConfig, app: App, *, message_id: str) -> AgentConfig:
    """``config`` with the app's datasets as tools too (chat/dataset_tools.py)."""
    tools, citations = dataset_tools(app, message_id=message_id)
    return replace(config, tools=config.tools + tools, citations=citations)


def agent_config(workspace: Workspace, model_config: Mapping[str, Any]) -> AgentConfig:
    """The app's agent settings with its enabled tools resolved (InvalidParam when a tool
    is unknown in this workspace or the settings are malformed)."""
    mode = model_config.get("agent_mode") or {}
    if not isinstance(mode, Mapping):
        raise InvalidParam("model_config.agent_mode must be an object")
    raw_strategy = str(mode.get("strategy") or "function_call")
    strategy = STRATEGIES.get(raw_strategy.lower().replace("-", "_"))
    if strategy is None:
        raise InvalidParam(f"unknown agent strategy {raw_strategy!r} (function_call, react)")
    try:
        iterations = int(mode.get("max_iteration") or DEFAULT_MAX_ITERATIONS)
    except (TypeError, ValueError) as exc:
        raise InvalidParam("agent_mode.max_iteration must be a number") from exc
    raw_tools = mode.get("tools") or [] if mode.get("enabled", True) else []
    if not isinstance(raw_tools, list):
        raise InvalidParam("agent_mode.tools must be a list")
    enabled = [t for t in raw_tools if isinstance(t, Mapping) and t.get("enabled", True)]
    tools = tuple(_bind(workspace, i, t) for i, t in enumerate(enabled)) if enabled else ()
    return AgentConfig(strategy, max(1, min(iterations, MAX_ITERATIONS)), tools)


def _bind(workspace: Workspace, index: int, raw: Mapping[str, Any]) -> AgentTool:
    from apps.tools.invoker import WorkspaceToolInvoker

    provider_type = str(raw.get("provider_type") or "builtin")
    provider_id = str(raw.get("provider_id") or raw.get("provider_name") or "")
    tool_name = str(raw.get("tool_name") or "")
    if not provider_id or not tool_name:
        raise InvalidParam(f"agent_mode.tools[{index}] needs provider_id and tool_name")
    invoker = WorkspaceToolInvoker(workspace)
    described = invoker.describe(provider_type, provider_id, tool_name)
    if described is None:
        raise InvalidParam(f"tool {provider_id}/{tool_name} ({provider_type}) is not available")
    fixed = {k: v for k, v in (raw.get("tool_parameters") or {}).items() if v not in (None, "")}
    schema = schema_without(described.parameters, fixed)

    def call(args: dict[str, Any]) -> ToolResult:
        return invoker.invoke(
            provider_type=provider_type,
            provider_id=provider_id,
            tool_name=tool_name,
            parameters={**args, **fixed},
        )

    return AgentTool(tool_name, str(described.description or tool_name), schema, call)


def _thought(task: ChatTask, thought_id: str, position: int, **fields: Any) -> dict[str, Any]:
    return {
        "event": "agent_thought", **task.ids(), "id": thought_id, "position": position,
        "thought": fields.get("thought", ""), "observation": fields.get("observation", ""),
        "tool": fields.get("tool", ""), "tool_labels": fields.get("tool_labels", {}),
        "tool_input": fields.get("tool_input", ""), "message_files": [],
    }  # fmt: skip


def _round_fields(event: AgentRound) -> dict[str, Any]:
    uses = event.uses
    if not uses:
        return {"thought": event.thought}
    if len(uses) == 1:
        tool_input = json.dumps(uses[0].input, ensure_ascii=False)
        observation = uses[0].observation
    else:
        tool_input = json.dumps({u.tool: u.input for u in uses}, ensure_ascii=False)
        observation = json.dumps({u.tool: u.observation for u in uses}, ensure_ascii=False)
    return {
        "thought": event.thought,
        "tool": ";".join(u.tool for u in uses),
        "tool_labels": {u.tool: {"en_US": u.tool, "zh_Hans": u.tool} for u in uses},
        "tool_input": tool_input,
        "observation": observation,
    }


def agent_run(call: ModelCall, config: AgentConfig, moderation: Moderation | None = None) -> Any:
    """The ``run`` of a ChatTask for agent-chat apps. With an output ``moderation`` the
    answer text is checked as it streams; a flagged answer ends the loop and is replaced
    (``message_replace``), as in the simple modes."""

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        guard = OutputGuard(moderation) if moderation is not None else None
        answer: list[str] = []

        def should_stop() -> bool:
            return task.stop.is_set() or (guard is not None and guard.flagged)

        loop = AgentLoop(
            runtime=WorkspaceModelRuntime(task.app.workspace),
            strategy=config.strategy,
            tools=config.tools,
            model_kwargs={
                "provider": call.provider, "model": call.model,
                "parameters": call.parameters, "user": str(task.end_user.pk),
            },
            max_iterations=config.max_iterations,
            should_stop=should_stop,
        )  # fmt: skip
        thoughts: list[dict[str, Any]] = []
        open_id: str | None = None
        status, failure = Message.Status.NORMAL, None
        try:
            for event in loop.run(call.messages):
                if open_id is None:
                    open_id = str(uuid.uuid4())
                    yield _thought(task, open_id, len(thoughts) + 1)
                if isinstance(event, TextDelta):
                    answer.append(event.text)
                    if guard is not None and guard.feed("".join(answer)):
                        continue  # not sent; the loop stops at its next check
                    yield {
                        "event": "agent_message", **task.ids(),
                        "id": task.message_id, "answer": event.text,
                    }  # fmt: skip
                    continue
                fields = _round_fields(event)
                thoughts.append(
                    {"id": open_id, "position": len(thoughts) + 1, "files": [],
                     "tool_labels": {}, "tool": "", "tool_input": "", "observation": "",
                     **fields, "created_at": int(time.time())}
                )  # fmt: skip
                yield _thought(task, open_id, len(thoughts), **fields)
                open_id = None
        except AgentStopped:
            if not (guard is not None and guard.flagged):
                status = Message.Status.STOPPED
        except AppError as exc:
            status, failure = Message.Status.ERROR, exc
        except Exception as exc:
            logger.exception("agent run failed")
            status = Message.Status.ERROR
            failure = AppError(f"The agent failed: {type(exc).__name__}", status=500,
                               code="internal_server_error")  # fmt: skip
        outcome = loop.outcome
        latency = time.perf_counter() - task.started
        prompt_tokens, completion_tokens = (
            outcome.usage.prompt_tokens,
            outcome.usage.completion_tokens,
        )
        cost = outcome.usage.cost
        if not outcome.usage.total_tokens:  # a server that reports no usage
            prompt_tokens = sum(estimate_tokens(m.text()) for m in call.messages)
            completion_tokens = estimate_tokens(outcome.text)
            runtime = WorkspaceModelRuntime(task.app.workspace)
            cost = runtime.cost(call.provider, call.model, prompt_tokens, completion_tokens)
        text = outcome.text or "".join(answer)
        cited = config.citations.resources if config.citations is not None else []
        task.message.retriever_resources = cited
        replacement = guard.finish(text) if guard is not None and failure is None else None
        message_finish(
            task.message, answer=text if replacement is None else replacement,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency=latency,
            status=status, error=failure.message if failure else "", agent_thoughts=thoughts,
            cost=cost, retriever_resources=cited,
        )  # fmt: skip
        if failure is not None:
            yield task.error_event(failure)
            return
        if replacement is not None:
            yield replace_event(task, replacement)
        yield message_end(task, usage_payload(prompt_tokens, completion_tokens, latency, cost))

    return run
