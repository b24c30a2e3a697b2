"""Small model calls around a chat: conversation titles and follow-up question suggestions.

Like Dify, they use the workspace's default LLM (Dify's "system model"); when none is set
they use the app's own model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from apps.providers.runtime.base import ChatMessage
from apps.providers.services import WorkspaceModelRuntime, default_model_get
from apps.workflows.adapters.models import provider_name
from apps.workflows.models import App, Conversation

logger = logging.getLogger(__name__)
NAME_FALLBACK_CHARS = 20
NAME_MAX_CHARS = 75

_TITLE_INSTRUCTION = (
    "You name chat conversations. Given the first message of a conversation, reply with a "
    "title of at most eight words that says what it is about, in the language of the "
    "message. Reply with the title only: no quotes, no punctuation at the end, no preamble."
)
_SUGGEST_INSTRUCTION = (
    "Read the conversation below and guess the three questions the user is most likely to "
    "ask next. Keep each question short (under 20 words) and in the language of the "
    "assistant's last answer. Reply with a JSON array of three strings and nothing else, "
    'for example ["...", "...", "..."].'
)


def _model_for(app: App) -> tuple[str | None, str | None]:
    default = default_model_get(workspace=app.workspace, model_type="llm")
    if default is not None:
        return default.provider, default.model
    model = (app.model_config or {}).get("model") or {}
    if app.mode == "advanced-chat" or not model.get("name"):
        return None, None  # the runtime raises provider_not_initialize
    return provider_name(model.get("provider")), model.get("name")


def _ask(app: App, messages: Sequence[ChatMessage], max_tokens: int) -> str:
    provider, model = _model_for(app)
    result = WorkspaceModelRuntime(app.workspace).chat(
        messages,
        provider=provider,
        model=model,
        parameters={"temperature": 0.2, "max_tokens": max_tokens},
    )
    return result.text


def conversation_title(*, app: App, query: str) -> str:
    """A short title for a conversation starting with ``query`` (its start on any error)."""
    fallback = query.strip()[:NAME_FALLBACK_CHARS] or "New conversation"
    try:
        messages = [ChatMessage.system(_TITLE_INSTRUCTION), ChatMessage.user(query[:2000])]
        text = _ask(app, messages, max_tokens=60)
    except Exception as exc:  # noqa: BLE001 - a title must never break a chat
        logger.info("conversation title generation failed: %s", exc)
        return fallback
    lines = [line for line in text.strip().splitlines() if line.strip()]
    title = lines[0].strip().strip("\"'“”‘’`*#").strip() if lines else ""
    if not title:
        return fallback
    if len(title) > NAME_MAX_CHARS:
        title = title[:NAME_MAX_CHARS] + "..."
    return title


def conversation_title_store(*, conversation_id: Any, app: App, query: str) -> None:
    """Generate and save a title (called after the answer went out; never raises)."""
    try:
        name = conversation_title(app=app, query=query)
        Conversation.objects.filter(pk=conversation_id).update(name=name)
    except Exception:
        logger.exception("storing a conversation title failed")


def suggested_questions(*, app: App, turns: Sequence[Mapping[str, str]]) -> list[str]:
    """Three likely follow-up questions; [] when the model fails or answers off-format."""
    lines = []
    for turn in turns:
        lines.append(f"User: {turn.get('query') or ''}")
        lines.append(f"Assistant: {turn.get('answer') or ''}")
    transcript = "\n".join(lines)[-12000:]
    messages = [ChatMessage.system(_SUGGEST_INSTRUCTION), ChatMessage.user(transcript)]
    try:
        text = _ask(app, messages, max_tokens=256)
    except Exception as exc:  # noqa: BLE001 - Dify answers an empty list on failure
        logger.info("suggested questions failed: %s", exc)
        return []
    parsed = _json_array(text)
    return [q.strip() for q in parsed if isinstance(q, str) and q.strip()][:3]


def _json_array(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char == "[":
            try:
                value = decoder.raw_decode(text, index)[0]
            except ValueError:
                continue
            if isinstance(value, list):
                return value
    return []
