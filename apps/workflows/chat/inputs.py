"""The app's input form, the check of a request's ``inputs`` against it, and the prompt of
the simple modes (chat, agent-chat, completion) built as Dify builds it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from apps.core.errors import InvalidParam
from apps.providers.runtime.base import ChatMessage, estimate_tokens
from apps.workflows.engine.nodes.prompting import user_message
from apps.workflows.models import App, Workflow

TEXT_TYPES = {"text-input", "paragraph", "select"}
_PLACEHOLDER = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,29})\}\}")

# Dify's TokenBufferMemory when no window is configured: the last 500 messages, cut from
# the oldest until the history fits 2,000 tokens.
HISTORY_MESSAGE_LIMIT = 500
HISTORY_TOKEN_LIMIT = 2000


def form_fields(app: App, workflow: Workflow | None = None) -> list[dict[str, Any]]:
    """The form as ``[{variable, type, required, max_length, options, default}]``.

    Simple modes keep Dify's ``user_input_form`` (``[{"text-input": {...}}, …]``); chatflows
    declare their inputs as the start node's ``variables``.
    """
    if workflow is not None:
        for node in (workflow.graph or {}).get("nodes") or []:
            data = node.get("data") or {}
            if data.get("type") == "start":
                return [dict(v) for v in data.get("variables") or [] if isinstance(v, dict)]
        return []
    fields: list[dict[str, Any]] = []
    for item in (app.model_config or {}).get("user_input_form") or []:
        if not isinstance(item, Mapping) or len(item) != 1:
            continue
        ((kind, spec),) = item.items()
        if kind == "external_data_tool":
            continue  # filled by its API extension (chat/external_data.py), not the caller
        if isinstance(spec, Mapping):
            fields.append({**spec, "type": spec.get("type") or kind})
    return fields


def inputs_validate(
    fields: Sequence[Mapping[str, Any]], inputs: Any, *, fill_defaults: bool = True
) -> dict[str, Any]:
    """The form's values from ``inputs`` (unknown keys dropped), or ``invalid_param``."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise InvalidParam("inputs must be an object")
    values: dict[str, Any] = {}
    for field in fields:
        name = field.get("variable")
        if not name:
            continue
        kind = field.get("type") or "text-input"
        value = inputs.get(name)
        if value is None or value == "":
            if field.get("required") and field.get("default") in (None, ""):
                raise InvalidParam(f"{name} is required in input form")
            if fill_defaults:
                default = field.get("default")
                values[name] = (
                    default if default is not None else ("" if kind in TEXT_TYPES else None)
                )
            continue
        values[name] = _checked(name, kind, field, value)
    return values


def _checked(name: str, kind: str, field: Mapping[str, Any], value: Any) -> Any:
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise InvalidParam(f"{name} in input form must be a string")
        value = value.replace("\x00", "")
        limit = field.get("max_length")
        if limit and len(value) > int(limit):
            raise InvalidParam(f"{name} in input form must be less than {limit} characters")
        options = field.get("options") or []
        if kind == "select" and options and value not in options:
            raise InvalidParam(f"{name} in input form must be one of the following: {options}")
    elif kind == "number":
        if isinstance(value, bool):
            raise InvalidParam(f"{name} in input form must be a valid number")
        try:
            float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParam(f"{name} in input form must be a valid number") from exc
    return value


def template_render(template: str, values: Mapping[str, Any]) -> str:
    """``{{name}}`` placeholders of the form's variables; other text is kept as written."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(replace, template or "")


def history_window(turns: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The newest turns that fit ``HISTORY_TOKEN_LIMIT`` (oldest dropped first)."""
    kept: list[Mapping[str, Any]] = []
    budget = HISTORY_TOKEN_LIMIT
    for turn in reversed(list(turns)[-HISTORY_MESSAGE_LIMIT:]):
        cost = estimate_tokens(turn.get("query") or "") + estimate_tokens(turn.get("answer") or "")
        if cost > budget:
            break
        budget -= cost
        kept.append(turn)
    kept.reverse()
    return kept


def prompt_messages(
    *, pre_prompt: str, inputs: Mapping[str, Any], query: str, history: Sequence[Mapping[str, Any]]
) -> list[ChatMessage]:
    """System = the rendered pre-prompt, then the history turns, then the query.

    A turn's ``images`` (OpenAI content parts) go with its query. With no query (completion
    apps) the rendered prompt itself is the user message.
    """
    prompt = template_render(pre_prompt, inputs)
    messages: list[ChatMessage] = []
    if query and prompt.strip():
        messages.append(ChatMessage.system(prompt))
    for turn in history:
        messages.append(user_message(str(turn.get("query") or ""), turn.get("images") or ()))
        messages.append(ChatMessage.assistant(str(turn.get("answer") or "")))
    text = query or prompt
    if not text.strip():
        raise InvalidParam("query is required (the app's prompt is empty)")
    messages.append(ChatMessage.user(text))
    return messages
