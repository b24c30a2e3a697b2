"""Prompt building shared by the model nodes (llm, question-classifier, parameter-extractor,
agent): Dify prompt templates (basic / jinja2), ``{{#context#}}``, memory, vision, the model
config, usage and JSON helpers. Not a node module (it registers nothing)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from apps.providers.runtime.base import ChatMessage, Role, Usage, UsageCost
from apps.providers.runtime.errors import ProviderError

from ..errors import NodeError
from ..variables import VariablePool, template_selectors, to_text
from .base import Node, RunContext

CONTEXT_MARK = "{{#context#}}"
QUERY_MARK = "{{#sys.query#}}"
HISTORY_LIMIT = 500  # turns; Dify's TokenBufferMemory limit when the window is off
ROLES = ("system", "user", "assistant")
_jinja = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    name: str
    mode: str = "chat"
    params: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"model_mode": self.mode, "model_provider": self.provider, "model_name": self.name}


@dataclass(frozen=True)
class PromptItem:
    role: str
    text: str
    jinja: Any = None  # compiled template when edition_type is jinja2


@dataclass(frozen=True)
class PromptSpec:
    items: list[PromptItem]
    chat: bool  # False: completion mode (one text → one user message)
    jinja_variables: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class MemorySpec:
    window: int  # turns of history to send
    query_template: str
    user_prefix: str = "Human"
    assistant_prefix: str = "Assistant"


@dataclass(frozen=True)
class VisionSpec:
    enabled: bool = False
    selector: tuple[str, ...] = ("sys", "files")
    detail: str = "high"


# -- parsing (graph-parse time) --------------------------------------------------------------
def parse_model(node: Node, name: str = "model", raw: Any = None) -> ModelSpec:
    raw = node.data.get(name) if raw is None else raw
    if not isinstance(raw, Mapping):
        raise node.fail_config(name, "must be an object with provider and name")
    provider, model = raw.get("provider"), raw.get("name") or raw.get("model")
    if not provider or not isinstance(provider, str):
        raise node.fail_config(f"{name}.provider", "is required")
    if not model or not isinstance(model, str):
        raise node.fail_config(f"{name}.name", "is required")
    params = raw.get("completion_params") or {}
    if not isinstance(params, Mapping):
        raise node.fail_config(f"{name}.completion_params", "must be an object")
    return ModelSpec(provider, model, str(raw.get("mode") or "chat"), dict(params))


def compile_jinja(node: Node, name: str, source: str) -> Any:
    try:
        return _jinja.from_string(source)
    except TemplateError as exc:
        raise node.fail_config(name, f"invalid Jinja2: {exc}") from exc


def _prompt_item(node: Node, name: str, raw: Any, role: str | None = None) -> PromptItem:
    if not isinstance(raw, Mapping):
        raise node.fail_config(name, "must be an object with role and text")
    role = role or str(raw.get("role") or "")
    if role not in ROLES:
        raise node.fail_config(f"{name}.role", f"must be one of {', '.join(ROLES)}")
    text = raw.get("text") or ""
    if not isinstance(text, str):
        raise node.fail_config(f"{name}.text", "must be a string")
    if raw.get("edition_type") == "jinja2":
        source = raw.get("jinja2_text")
        source = source if isinstance(source, str) else text
        return PromptItem(role, text, compile_jinja(node, f"{name}.jinja2_text", source))
    return PromptItem(role, text)


def parse_prompt(node: Node, name: str = "prompt_template") -> PromptSpec:
    raw = node.data.get(name)
    if isinstance(raw, Mapping):
        items, chat = [_prompt_item(node, name, raw, role="user")], False
    elif isinstance(raw, list):
        items, chat = [_prompt_item(node, f"{name}[{i}]", m) for i, m in enumerate(raw)], True
    else:
        raise node.fail_config(name, "must be a list of messages or a completion template")
    config = node.data.get("prompt_config") or {}
    raw_vars = config.get("jinja2_variables") if isinstance(config, Mapping) else None
    if raw_vars is not None and not isinstance(raw_vars, list):
        raise node.fail_config("prompt_config.jinja2_variables", "must be a list")
    variables = []
    for i, item in enumerate(raw_vars or []):
        where = f"prompt_config.jinja2_variables[{i}]"
        if not isinstance(item, Mapping) or not item.get("variable"):
            raise node.fail_config(f"{where}.variable", "is required")
        selector = node.selector(f"{where}.value_selector", item.get("value_selector"))
        variables.append((str(item["variable"]), selector))
    return PromptSpec(items, chat, variables)


def parse_memory(node: Node, name: str = "memory") -> MemorySpec | None:
    raw = node.data.get(name)
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise node.fail_config(name, "must be an object")
    window = raw.get("window") or {}
    size = HISTORY_LIMIT
    if isinstance(window, Mapping) and window.get("enabled"):
        try:
            size = max(0, min(int(window.get("size") or 0), HISTORY_LIMIT))
        except (TypeError, ValueError) as exc:
            raise node.fail_config(f"{name}.window.size", "must be a number") from exc
    prefix = raw.get("role_prefix") or {}
    prefix = prefix if isinstance(prefix, Mapping) else {}
    return MemorySpec(
        window=size,
        query_template=str(raw.get("query_prompt_template") or QUERY_MARK),
        user_prefix=str(prefix.get("user") or "Human"),
        assistant_prefix=str(prefix.get("assistant") or "Assistant"),
    )


def parse_vision(node: Node, name: str = "vision") -> VisionSpec:
    raw = node.data.get(name) or {}
    if not isinstance(raw, Mapping):
        raise node.fail_config(name, "must be an object")
    if not raw.get("enabled"):
        return VisionSpec()
    configs = raw.get("configs") or {}
    configs = configs if isinstance(configs, Mapping) else {}
    selector = configs.get("variable_selector") or ["sys", "files"]
    selector = node.selector(f"{name}.configs.variable_selector", selector)
    return VisionSpec(True, tuple(selector), str(configs.get("detail") or "high"))


def parse_context(node: Node, name: str = "context") -> list[str] | None:
    raw = node.data.get(name) or {}
    if not isinstance(raw, Mapping):
        raise node.fail_config(name, "must be an object")
    if not raw.get("enabled") or not raw.get("variable_selector"):
        return None
    return node.selector(f"{name}.variable_selector", raw.get("variable_selector"))


# -- values (run time) ------------------------------------------------------------------------
def context_text(value: Any) -> str:
    """A context value as prompt text: a string, or knowledge-retrieval items' content."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return to_text(value)
    parts = []
    for item in value:
        if isinstance(item, Mapping):
            if "content" not in item:
                raise NodeError(f"invalid context structure: {to_text(item)[:200]}")
            if item.get("summary"):
                parts.append(str(item["summary"]))
            parts.append(to_text(item["content"]))
        else:
            parts.append(to_text(item))
    return "\n".join(parts).strip()


def render_jinja(template: Any, values: Mapping[str, Any]) -> str:
    try:
        return str(template.render(**values))
    except TemplateError as exc:
        raise NodeError(f"template error: {exc}") from exc


def history_turns(ctx: RunContext, memory: MemorySpec | None) -> list[Mapping[str, str]]:
    if memory is None or memory.window <= 0:
        return []
    return list(ctx.history)[-memory.window :]


def history_messages(ctx: RunContext, memory: MemorySpec | None) -> list[ChatMessage]:
    messages = []
    for turn in history_turns(ctx, memory):
        messages.append(ChatMessage.user(str(turn.get("query") or "")))
        messages.append(ChatMessage.assistant(str(turn.get("answer") or "")))
    return messages


def history_text(ctx: RunContext, memory: MemorySpec | None) -> str:
    if memory is None:
        return ""
    lines = []
    for turn in history_turns(ctx, memory):
        lines.append(f"{memory.user_prefix}: {turn.get('query') or ''}")
        lines.append(f"{memory.assistant_prefix}: {turn.get('answer') or ''}")
    return "\n".join(lines)


def image_parts(pool: VariablePool, ctx: RunContext, vision: VisionSpec) -> list[dict[str, Any]]:
    """The vision files as OpenAI ``image_url`` content parts (non-images are skipped)."""
    if not vision.enabled:
        return []
    value = pool.get_or(vision.selector)
    files = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else []
    parts = []
    for file in files:
        if not isinstance(file, Mapping) or file.get("type") != "image":
            continue
        url = file.get("url") or file.get("remote_url")
        reader = ctx.ports.file_reader
        if not url and reader is not None:
            mime = str(file.get("mime_type") or "image/png")
            url = f"data:{mime};base64,{base64.b64encode(reader.read(file)).decode()}"
        if url:
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": vision.detail}})
    return parts


def user_message(text: str, images: Sequence[dict[str, Any]] = ()) -> ChatMessage:
    """A user message: its text, or a text part and image parts when it has images."""
    if not images:
        return ChatMessage.user(text)
    parts = [{"type": "text", "text": text}] if text else []
    return ChatMessage.user(parts + list(images))


def with_images(messages: list[ChatMessage], images: list[dict[str, Any]]) -> list[ChatMessage]:
    """Put the image parts on the last user message (a new one when there is none)."""
    if not images:
        return messages
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            messages[index] = user_message(messages[index].text(), images)
            return messages
    return [*messages, ChatMessage.user(list(images))]


def build_messages(
    pool: VariablePool,
    ctx: RunContext,
    prompt: PromptSpec,
    *,
    context: str = "",
    memory: MemorySpec | None = None,
    images: Sequence[dict[str, Any]] = (),
) -> list[ChatMessage]:
    """Dify's order: the template's messages, the history, then the query turn (memory set).
    When a template user message already holds ``{{#sys.query#}}`` the query is not added
    again and the history goes just before that message."""
    jinja_values = {name: pool.get_or(selector) for name, selector in prompt.jinja_variables}
    rendered = []
    for item in prompt.items:
        if item.jinja is not None:
            text = render_jinja(item.jinja, jinja_values)
        else:
            text = pool.render(item.text.replace(CONTEXT_MARK, context))
        rendered.append((item.role, text))
    if not prompt.chat:
        text = rendered[0][1]
        if memory is not None:
            past = history_text(ctx, memory)
            if "#histories#" in text:
                text = text.replace("{{#histories#}}", past).replace("#histories#", past)
            elif past:
                text = f"{past}\n{text}"
        messages = [ChatMessage.user(text)]
    else:
        messages = [ChatMessage(role=cast(Role, role), content=text) for role, text in rendered]
        if memory is not None:
            holder = [
                i
                for i, item in enumerate(prompt.items)
                if item.role == "user" and item.jinja is None and QUERY_MARK in item.text
            ]
            turns = history_messages(ctx, memory)
            if holder:
                messages[holder[-1] : holder[-1]] = turns
            else:
                messages.extend(turns)
                messages.append(ChatMessage.user(pool.render(memory.query_template)))
    messages = [m for m in messages if m.text().strip()]
    messages = with_images(messages, list(images))
    if not messages:
        raise NodeError("No prompt found in the LLM configuration.")
    return messages


def template_inputs(pool: VariablePool, templates: Sequence[str]) -> dict[str, Any]:
    """The variables the templates read, keyed ``#node.var#`` like Dify's node inputs."""
    found: dict[str, Any] = {}
    for template in templates:
        for selector in template_selectors(template):
            found[f"#{'.'.join(selector)}#"] = pool.get_or(selector)
    return found


def messages_for_log(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Prompts as Dify records them: ``{role, text, files}``."""
    logged = []
    for message in messages:
        files = []
        if isinstance(message.content, list):
            for part in message.content:
                if part.get("type") == "image_url":
                    url = str(part["image_url"].get("url", ""))
                    url = url[:64] + "..." if url.startswith("data:") else url
                    detail = part["image_url"].get("detail")
                    files.append({"type": "image", "data": url, "detail": detail})
        entry: dict[str, Any] = {"role": message.role, "text": message.text(), "files": files}
        if message.tool_calls:
            entry["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
            ]
        logged.append(entry)
    return logged


def usage_dict(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "latency": round(usage.latency, 3),
        **(usage.cost or UsageCost()).fields(),
    }


def first_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (code fences and prose around it ignored)."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                return decoder.raw_decode(text, index)[0]
            except ValueError:
                continue
    return None


@contextmanager
def model_errors() -> Iterator[None]:
    """Model provider failures become NodeErrors with the provider's one-line message."""
    try:
        yield
    except ProviderError as exc:
        raise NodeError(str(exc)) from exc
