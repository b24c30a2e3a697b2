"""The agent loop shared by the workflow ``agent`` node and ``agent-chat`` apps.

Two strategies, as Dify's built-in ones: ``function_calling`` (the model's native tool
calls, OpenAI tools API) and ``react`` (Thought / Action / Action Input / Observation in
plain text, for models without tool calls). Each round the model answers; its tool calls
are run and their observations fed back, until it answers without a tool or the
iteration budget is spent (then one last round without tools forces an answer).

The loop is a generator: ``TextDelta`` for answer text as it streams, ``AgentRound`` when a
round is done (its thought, the tool calls with inputs and observations), and it returns an
``AgentOutcome``. Callers map these to their own events (AgentLog / agent_thought).
Provider errors propagate; ``should_stop()`` ends the loop with ``AgentStopped``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.providers.runtime.base import ChatMessage, LLMChunk, ToolCall, ToolSpec, Usage
from apps.providers.runtime.errors import InvokeBadRequestError

from .nodes.agent_react import REACT_STOP, parse_react, react_system_prompt
from .ports import ModelRuntime, ToolResult

STRATEGIES = {
    "function_calling": "function_calling",
    "function_call": "function_calling",
    "react": "react",
    "cot": "react",
}
FINAL_ROUND_NOTE = "You cannot use tools any more. Give your Final Answer now."


class AgentStopped(Exception):
    """should_stop() turned true during the loop."""


@dataclass(frozen=True)
class AgentTool:
    name: str  # as the model sees it
    description: str
    schema: Mapping[str, Any]  # JSON schema of the arguments
    call: Callable[[dict[str, Any]], ToolResult]

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, dict(self.schema))


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolUse:
    tool: str
    input: dict[str, Any]
    observation: str
    result: ToolResult | None = None  # None when the call failed or the tool is unknown


@dataclass(frozen=True)
class AgentRound:
    number: int
    thought: str
    uses: tuple[ToolUse, ...] = ()
    usage: Usage = field(default_factory=Usage)


@dataclass
class AgentOutcome:
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    json: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    rounds: int = 0


AgentEvent = TextDelta | AgentRound


def observation_text(result: ToolResult) -> str:
    """What the model reads back from a tool: its text, its JSON items, its file names."""
    parts = [result.text] if result.text else []
    parts += [json.dumps(item, ensure_ascii=False) for item in result.json]
    parts += [f"file: {f.get('filename') or f.get('url') or ''}" for f in result.files]
    return "\n".join(parts) or "the tool returned nothing"


def _tools_unsupported(exc: BaseException) -> bool:
    """A model server's refusal of the ``tools`` parameter: a bad request (400) that names
    tools or functions, seen through wrappers (the adapters re-raise with ``from``)."""
    seen: BaseException | None = exc
    while seen is not None:
        bad_request = isinstance(seen, InvokeBadRequestError) or getattr(seen, "status", 0) == 400
        text = str(getattr(seen, "message", "") or seen).lower()
        if bad_request and ("tool" in text or "function" in text):
            return True
        seen = seen.__cause__
    return False


def schema_without(schema: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's argument schema minus the parameters fixed where the tool is configured
    (the model must not be asked for them)."""
    result = dict(schema)
    if fixed and isinstance(result.get("properties"), Mapping):
        result["properties"] = {k: v for k, v in result["properties"].items() if k not in fixed}
        result["required"] = [r for r in result.get("required", []) if r not in fixed]
    return result


def parse_arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class AgentLoop:
    runtime: ModelRuntime
    strategy: str
    tools: Sequence[AgentTool]
    model_kwargs: Mapping[str, Any]  # provider, model, parameters, user
    max_iterations: int = 3
    should_stop: Callable[[], bool] = lambda: False
    outcome: AgentOutcome = field(default_factory=AgentOutcome)
    fell_back_to_react: bool = False

    def __post_init__(self) -> None:
        self._tools = {tool.name: tool for tool in self.tools}

    def run(self, messages: Sequence[ChatMessage]) -> Generator[AgentEvent, None, AgentOutcome]:
        """Run on ``messages`` (an optional system message, the history, the user's query);
        the ReAct strategy wraps the system message in its format instructions.

        ReAct is also the fallback: when the first function-calling request is refused
        because the model takes no tools (HTTP 400 naming tools/functions), the turn is
        redone with ReAct (``fell_back_to_react``)."""
        messages = list(messages)
        if self.strategy == "react":
            messages = self._react_messages(messages)
        for number in range(1, self.max_iterations + 2):
            self._check_stop()
            last = number > self.max_iterations  # like Dify: a final round without tools
            if self.strategy == "react":
                done = yield from self._react_round(messages, number, last)
            else:
                try:
                    done = yield from self._fc_round(messages, number, last)
                except Exception as exc:
                    if not (number == 1 and self.tools and not self.outcome.text):
                        raise
                    if not _tools_unsupported(exc):
                        raise
                    self.strategy, self.fell_back_to_react = "react", True
                    messages = self._react_messages(messages)
                    done = yield from self._react_round(messages, number, last)
            self.outcome.rounds = number
            if done:
                break
        return self.outcome

    def _react_messages(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        messages = list(messages)
        instruction = ""
        if messages and messages[0].role == "system":
            instruction = messages.pop(0).text()
        specs = [t.spec() for t in self.tools]
        messages.insert(0, ChatMessage.system(react_system_prompt(instruction, specs)))
        return messages

    def _check_stop(self) -> None:
        if self.should_stop():
            raise AgentStopped()

    def _fc_round(
        self, messages: list[ChatMessage], number: int, last: bool
    ) -> Generator[AgentEvent, None, bool]:
        specs = None if last or not self.tools else [t.spec() for t in self.tools]
        thought: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        chunk: LLMChunk
        for chunk in self.runtime.chat_stream(messages, tools=specs, **self.model_kwargs):
            self._check_stop()
            if chunk.delta:
                thought.append(chunk.delta)
                self.outcome.text += chunk.delta
                yield TextDelta(chunk.delta)
            calls.extend(chunk.tool_calls)
            if chunk.usage is not None:
                usage = usage + chunk.usage
        self.outcome.usage = self.outcome.usage + usage
        text = "".join(thought)
        if last or not calls:
            yield AgentRound(number, text, (), usage)
            return True
        messages.append(ChatMessage.assistant(text, calls))
        uses = []
        for call in calls:
            use = self._use(call.name, parse_arguments(call.arguments))
            messages.append(ChatMessage.tool(use.observation, call.id))
            uses.append(use)
        yield AgentRound(number, text, tuple(uses), usage)
        return False

    def _react_round(
        self, messages: list[ChatMessage], number: int, last: bool
    ) -> Generator[AgentEvent, None, bool]:
        if last:
            messages.append(ChatMessage.user(FINAL_ROUND_NOTE))
        result = self.runtime.chat(messages, stop=REACT_STOP, **self.model_kwargs)
        self.outcome.usage = self.outcome.usage + result.usage
        step = parse_react(result.text)
        if step.action is None or last:
            answer = step.answer if step.answer is not None else step.thought or result.text
            self.outcome.text += answer
            yield TextDelta(answer)
            yield AgentRound(number, step.thought, (), result.usage)
            return True
        use = self._use(step.action, step.action_input)
        messages.append(ChatMessage.assistant(result.text.rstrip()))
        messages.append(ChatMessage.user(f"Observation: {use.observation}"))
        yield AgentRound(number, step.thought, (use,), result.usage)
        return False

    def _use(self, name: str, args: dict[str, Any]) -> ToolUse:
        self._check_stop()
        tool = self._tools.get(name)
        if tool is None:
            return ToolUse(name, args, f"there is no tool named {name}")
        try:
            result = tool.call(args)
        except Exception as exc:  # noqa: BLE001 - the model sees the error, like in Dify
            return ToolUse(name, args, f"tool invoke error: {exc}")
        self.outcome.json.extend(result.json)
        self.outcome.files.extend(result.files)
        return ToolUse(name, args, observation_text(result), result)
