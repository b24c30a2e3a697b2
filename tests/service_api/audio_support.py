"""Shared set-up of the audio Service API suites: speech models on the fake, apps, messages."""

from __future__ import annotations

import hashlib
from typing import Any

from apps.providers.services import default_model_set, provider_credentials_set
from apps.tenants.models import Workspace
from apps.workflows.models import App, Conversation, EndUser, Message, Workflow
from tests.factories import make_app
from tests.fakes.openai_server import FakeOpenAIServer

SPEECH_MODELS = "fake-chat, fake-whisper:speech2text, fake-tts:tts"
STT_ON = {"speech_to_text": {"enabled": True}}
TTS_ON = {"text_to_speech": {"enabled": True, "voice": "nova", "language": "en-US",
                             "autoPlay": "disabled"}}  # fmt: skip


def connect_speech(workspace: Workspace, server: FakeOpenAIServer, **extra: str) -> None:
    """The compatible provider on ``server`` with chat, speech2text and tts defaults."""
    credentials = {"base_url": server.base_url, "api_key": server.api_key or "",
                   "models": SPEECH_MODELS, **extra}  # fmt: skip
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", credentials=credentials,
        validate=False,
    )  # fmt: skip
    for kind, model in (("llm", "fake-chat"), ("speech2text", "fake-whisper"), ("tts", "fake-tts")):
        default_model_set(
            workspace=workspace, model_type=kind, provider_name="openai_api_compatible",
            model=model,
        )  # fmt: skip


def speech_app(workspace: Workspace, mode: str = "chat", **config: Any) -> App:
    """A simple-mode app with the features in its model_config (graph modes: the draft's)."""
    if mode in ("advanced-chat", "workflow"):
        app = make_app(workspace, mode=mode)
        graph = {"nodes": [{"id": "start", "data": {"type": "start", "title": "Start"}}],
                 "edges": []}  # fmt: skip
        kind = "chat" if mode == "advanced-chat" else "workflow"
        Workflow.objects.create(
            workspace=workspace, app=app, type=kind, graph=graph, features=config
        )
        return app
    model = {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat"}
    return make_app(workspace, mode=mode, model_config={"model": model, **config})


def stored_message(app: App, user: str, answer: str, **fields: Any) -> Message:
    end_user, _ = EndUser.objects.get_or_create(workspace=app.workspace, app=app, session_id=user)
    conversation = Conversation.objects.create(workspace=app.workspace, app=app, end_user=end_user)
    return Message.objects.create(
        workspace=app.workspace, app=app, end_user=end_user, conversation=conversation,
        query="question", answer=answer, **fields,
    )  # fmt: skip


def transcript(filename: str, data: bytes) -> str:
    """What the fake hears, computed here from the bytes themselves."""
    return f"{filename}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}"


def spoken(text: str, voice: str) -> bytes:
    """What the fake says, computed here from the words themselves."""
    return b"".join(
        b"\xff\xf3" + hashlib.sha256(f"{voice}:{i}:{word}".encode()).digest()
        for i, word in enumerate(text.split())
    )
