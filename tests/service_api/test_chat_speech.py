"""Streamed answers read out (``text_to_speech.autoPlay: enabled``): tts_message events."""

from __future__ import annotations

import base64

import pytest
import requests

from apps.providers.models import DefaultModel
from apps.workflows.chat.speech import _sentences, autoplay_voice
from tests.factories import app_key, make_app, make_workspace
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer
from tests.service_api.audio_support import connect_speech, speech_app, spoken
from tests.service_api.chat_support import sse_events

pytestmark = pytest.mark.django_db(transaction=True)
REPLY = "Paris is big. It has many museums! Come visit"
SENTENCES = ["Paris is big.", "It has many museums!", "Come visit"]
AUTOPLAY = {"enabled": True, "voice": "onyx", "language": "en-US", "autoPlay": "enabled"}


@pytest.fixture
def server():
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS, reply_text=REPLY) as fake:
        yield fake


def _stream(base: str, key: str, path: str = "/v1/chat-messages", **body) -> list[dict]:
    body = {"inputs": {}, "query": "Tell me about Paris", "user": "alice",
            "response_mode": "streaming", **body}  # fmt: skip
    with requests.post(
        base + path, json=body, stream=True, timeout=60,
        headers={"Authorization": f"Bearer {key}"},
    ) as response:  # fmt: skip
        assert response.status_code == 200, response.text
        return list(sse_events(response))


def test_the_answer_is_read_out_sentence_by_sentence(asgi_server, server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, text_to_speech=AUTOPLAY)
    events = _stream(asgi_server, app_key(app))
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["tts_message_end", "message_end"]
    assert "".join(e["answer"] for e in events if e["event"] == "message") == REPLY
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["event"] == "tts_message")
    assert audio == b"".join(spoken(s, "onyx") for s in SENTENCES)
    assert [r.json["input"] for r in server.requests_to("/audio/speech")] == SENTENCES
    end = events[-2]
    assert end["audio"] == "" and end["message_id"] == events[-1]["message_id"]
    assert {e["conversation_id"] for e in events} == {events[-1]["conversation_id"]}
    assert all(isinstance(e["created_at"], int) and e["task_id"] for e in events)


def test_completion_apps_are_read_out_too_and_blocking_answers_are_not(asgi_server, server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, mode="completion", text_to_speech=AUTOPLAY)
    events = _stream(asgi_server, app_key(app), "/v1/completion-messages")
    assert [e["event"] for e in events][-2:] == ["tts_message_end", "message_end"]
    assert all("conversation_id" not in e for e in events)
    spoken_before = len(server.requests_to("/audio/speech"))
    blocking = requests.post(
        f"{asgi_server}/v1/completion-messages", timeout=60,
        json={"inputs": {}, "query": "Paris?", "user": "alice", "response_mode": "blocking"},
        headers={"Authorization": f"Bearer {app_key(app)}"},
    )  # fmt: skip
    assert blocking.json()["answer"] == REPLY, blocking.text
    assert len(server.requests_to("/audio/speech")) == spoken_before


@pytest.mark.parametrize(
    "tts",
    [None, {"enabled": True, "voice": "onyx", "autoPlay": "disabled"},
     {"enabled": False, "autoPlay": "enabled"}],
)  # fmt: skip
def test_no_audio_unless_auto_play_is_enabled(asgi_server, server, tts):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, **({"text_to_speech": tts} if tts else {}))
    events = _stream(asgi_server, app_key(app))
    assert not any(e["event"].startswith("tts_") for e in events)
    assert server.requests_to("/audio/speech") == []


def test_a_failed_speech_model_ends_the_audio_not_the_answer(asgi_server, server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    DefaultModel.objects.filter(workspace=workspace, model_type="tts").delete()
    app = speech_app(workspace, text_to_speech=AUTOPLAY)
    events = _stream(asgi_server, app_key(app))
    assert [e["event"] for e in events][-2:] == ["tts_message_end", "message_end"]
    assert not any(e["event"] == "tts_message" for e in events)
    assert "".join(e.get("answer", "") for e in events if e["event"] == "message") == REPLY


def test_sentence_split_and_settings():
    assert _sentences("One. Two! Thr") == ["One. ", "Two! ", "Thr"]
    assert _sentences("no end") == ["no end"]
    assert _sentences("a\nb. ") == ["a\n", "b. ", ""]
    workspace = make_workspace()
    assert autoplay_voice(make_app(workspace, model_config={"text_to_speech": AUTOPLAY})) == "onyx"
    assert autoplay_voice(make_app(workspace, mode="advanced-chat")) is None  # no workflow yet
    assert autoplay_voice(make_app(workspace, model_config={})) is None


def test_the_websocket_carries_the_same_audio_events(server):
    import asyncio

    from tests.service_api.test_websocket import _session

    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, text_to_speech=AUTOPLAY)
    message = {"action": "chat-messages", "body": {"inputs": {}, "query": "Paris?",
               "user": "alice", "response_mode": "streaming"}}  # fmt: skip
    (frames,) = asyncio.run(
        _session(f"/v1/ws/chat?token={app_key(app)}", [message], until=("message_end", "error"))
    )
    kinds = [f["event"] for f in frames]
    assert kinds[-2:] == ["tts_message_end", "message_end"]
    audio = b"".join(base64.b64decode(f["audio"]) for f in frames if f["event"] == "tts_message")
    assert audio == b"".join(spoken(s, "onyx") for s in SENTENCES)
