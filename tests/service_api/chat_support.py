"""Helpers of the chat-style Service API suites: apps wired to the fake model server, SSE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apps.providers.services import default_model_set, provider_credentials_set
from apps.tenants.models import Workspace
from apps.workflows.chat.task import background_wait
from apps.workflows.models import App
from tests.factories import make_app
from tests.fakes.openai_server import FakeOpenAIServer

DSL_DIR = Path(__file__).resolve().parent.parent / "workflows" / "dsl"

FORM = [
    {"text-input": {"label": "Name", "variable": "name", "required": True, "max_length": 10}},
    {"select": {"label": "Tone", "variable": "tone", "required": False,
                "options": ["warm", "dry"], "default": ""}},
]  # fmt: skip


def model_config(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model": {
            "provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
            "completion_params": {"temperature": 0.1},
        },
        "pre_prompt": "You help {{name}}. Tone: {{tone}}.",
        "user_input_form": FORM,
        "opening_statement": "Hi {{name}}!",
        "suggested_questions_after_answer": {"enabled": True},
    }  # fmt: skip
    config.update(extra)
    return config


def connect_model(workspace: Workspace, server: FakeOpenAIServer) -> None:
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials={"base_url": server.base_url, "api_key": server.api_key, "models": "fake-chat"},
        validate=False,
    )  # fmt: skip
    default_model_set(
        workspace=workspace, model_type="llm", provider_name="openai_api_compatible",
        model="fake-chat",
    )  # fmt: skip


def chat_app(
    workspace: Workspace, server: FakeOpenAIServer, mode: str = "chat", **config: Any
) -> App:
    connect_model(workspace, server)
    return make_app(workspace, mode=mode, model_config=model_config(**config))


def answer_requests(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    """The bodies of the chat requests that made answers: after-answer work (the title of a
    new conversation, which may reach the server before or after the answer's last event) is
    waited for and left out."""
    background_wait()
    bodies = [r.json for r in server.requests_to("/chat/completions")]
    return [body for body in bodies if not _is_title_request(body)]


def _is_title_request(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or [{}]
    first = messages[0].get("content")
    return isinstance(first, str) and first.startswith("You name chat conversations.")


def sse_events(response: Any) -> Iterator[dict[str, Any]]:
    """The ``data:`` payloads of a streamed ``requests`` response (pings skipped)."""
    for line in response.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            yield json.loads(line[len("data: ") :])
