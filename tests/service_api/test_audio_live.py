"""The audio endpoints over real HTTP (uvicorn + the ASGI stack), with a message made by
Dify's own SDK. ``dify-client`` 0.1.10 has no audio methods: those calls use ``requests``."""

from __future__ import annotations

import time

import pytest
import requests
from dify_client import ChatClient

from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer
from tests.service_api.audio_support import (
    STT_ON,
    TTS_ON,
    connect_speech,
    speech_app,
    spoken,
    transcript,
)

pytestmark = pytest.mark.django_db(transaction=True)
ANSWER = "Paris is the capital of France and its largest city."


@pytest.fixture
def server():
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS, reply_text=ANSWER) as fake:
        yield fake


def test_an_sdk_made_answer_is_read_out_as_a_stream(asgi_server, server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    app = speech_app(workspace, **TTS_ON, **STT_ON)
    key = app_key(app)
    chat = ChatClient(key)
    chat.base_url = f"{asgi_server}/v1"
    message = chat.create_chat_message({}, "Capital of France?", "alice").json()
    assert message["answer"] == ANSWER, message

    server.chunk_delay = 0.1  # the fake speaks one word per HTTP chunk, 0.1 s apart
    arrivals: list[tuple[float, bytes]] = []
    with requests.post(
        f"{asgi_server}/v1/text-to-audio", stream=True, timeout=30,
        json={"message_id": message["id"], "user": "alice", "streaming": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:  # fmt: skip
        assert response.status_code == 200, response.content
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert response.headers.get("Transfer-Encoding") == "chunked"
        for chunk in response.iter_content(chunk_size=None):
            arrivals.append((time.monotonic(), chunk))
    assert b"".join(c for _, c in arrivals) == spoken(ANSWER, "nova")
    assert len(arrivals) >= 3 and arrivals[-1][0] - arrivals[0][0] > 0.5  # sent as spoken

    denied = requests.post(
        f"{asgi_server}/v1/text-to-audio", timeout=30,
        json={"message_id": message["id"], "user": "mallory"},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert denied.status_code == 404 and denied.json()["code"] == "not_found"

    recording = b"ID3" + bytes(range(256)) * 40
    heard = requests.post(
        f"{asgi_server}/v1/audio-to-text", timeout=30, data={"user": "alice"},
        files={"file": ("question.mp3", recording, "audio/mp3")},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert heard.status_code == 200, heard.text
    assert heard.json() == {"text": transcript("question.mp3", recording)}


def test_a_client_that_hangs_up_mid_stream_does_not_break_the_server(asgi_server, server):
    workspace = make_workspace()
    connect_speech(workspace, server)
    key = app_key(speech_app(workspace, **TTS_ON))
    server.chunk_delay = 0.2
    text = " ".join(f"word{i}" for i in range(30))
    with requests.post(
        f"{asgi_server}/v1/text-to-audio", stream=True, timeout=30, json={"text": text},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:  # fmt: skip
        first = next(response.iter_content(chunk_size=None))
    assert first == spoken("word0", "nova")
    deadline = time.monotonic() + 5
    while not server.aborted_speech and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.aborted_speech == 1  # the provider's answer was closed, not read to the end
    again = requests.post(
        f"{asgi_server}/v1/text-to-audio", timeout=30, json={"text": "still here"},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert again.status_code == 200 and again.content == spoken("still here", "nova")
