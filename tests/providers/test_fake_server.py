"""The loopback fake OpenAI server speaks the real protocol (raw HTTP and the openai SDK)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import httpx2
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, fake_embedding


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def _auth(server: FakeOpenAIServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def test_models_list_and_auth(fake_openai: FakeOpenAIServer) -> None:
    ok = httpx2.get(f"{fake_openai.base_url}/models", headers=_auth(fake_openai))
    assert ok.status_code == 200
    assert {"fake-chat", "fake-embed"} <= {m["id"] for m in ok.json()["data"]}
    denied = httpx2.get(f"{fake_openai.base_url}/models")
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"
    assert denied.json()["error"]["type"] == "invalid_request_error"
    assert fake_openai.requests[0].path == "/v1/models"


def test_unknown_model_gets_openai_404(fake_openai: FakeOpenAIServer) -> None:
    body = {"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}
    response = httpx2.post(
        f"{fake_openai.base_url}/chat/completions", json=body, headers=_auth(fake_openai)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_sse_stream_is_chunked_and_ends_with_done(fake_openai: FakeOpenAIServer) -> None:
    body = {
        "model": "fake-chat",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "one two"}],
    }
    with httpx2.stream(
        "POST", f"{fake_openai.base_url}/chat/completions", json=body, headers=_auth(fake_openai)
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    frames = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert frames[-1]["choices"] == [] and frames[-1]["usage"]["prompt_tokens"] == 2
    text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames[:-1])
    assert text == fake_openai.reply_text


def test_sdk_chat_stream_tool_calls_and_embeddings(fake_openai: FakeOpenAIServer) -> None:
    client = openai.OpenAI(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    fake_openai.queue_tool_calls({"name": "lookup", "arguments": {"q": "x y z"}})
    pieces: dict[int, str] = {}
    stream = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "x"}], stream=True
    )
    for chunk in stream:
        deltas = [c.delta for c in chunk.choices]
        for call in [tc for delta in deltas for tc in delta.tool_calls or []]:
            arguments = call.function.arguments if call.function else None
            pieces[call.index] = pieces.get(call.index, "") + (arguments or "")
    assert json.loads(pieces[0]) == {"q": "x y z"}
    floats = client.embeddings.create(model="fake-embed", input="abc", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(fake_embedding("abc"))
    default = client.embeddings.create(model="fake-embed", input=["abc"], dimensions=4)
    assert default.data[0].embedding == pytest.approx(fake_embedding("abc", 4), abs=1e-6)
    assert fake_openai.requests[-1].json["encoding_format"] == "base64"


def test_base64_embedding_encoding(fake_openai: FakeOpenAIServer) -> None:
    body = {"model": "fake-embed", "input": "hello", "encoding_format": "base64"}
    response = httpx2.post(
        f"{fake_openai.base_url}/embeddings", json=body, headers=_auth(fake_openai)
    )
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == pytest.approx(fake_embedding("hello"), abs=1e-6)


def test_fail_next_fails_only_the_next_request(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail_next(429, "Slow down", code="rate_limit_exceeded")
    url = f"{fake_openai.base_url}/models"
    first = httpx2.get(url, headers=_auth(fake_openai))
    assert first.status_code == 429
    assert first.json()["error"] == {
        "message": "Slow down",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert httpx2.get(url, headers=_auth(fake_openai)).status_code == 200


def test_audio_endpoints_parse_real_bodies_and_refuse_bad_ones() -> None:
    from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, fake_speech

    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS) as server:
        url, auth = server.base_url, _auth(server)
        files = {"file": ("voice.wav", b"RIFF....WAVE", "audio/wav")}
        heard = httpx2.post(f"{url}/audio/transcriptions", headers=auth, files=files,
                            data={"model": "fake-whisper", "language": "en"})  # fmt: skip
        assert heard.status_code == 200 and heard.json()["text"].startswith("voice.wav: 12 bytes")
        recorded = server.requests[-1]
        assert recorded.json == {"model": "fake-whisper", "language": "en"}
        assert recorded.files["file"].data == b"RIFF....WAVE"
        empty = httpx2.post(f"{url}/audio/transcriptions", headers=auth,
                            files={"file": ("a.mp3", b"", "audio/mp3")},
                            data={"model": "fake-whisper"})  # fmt: skip
        assert empty.status_code == 400
        body = {"model": "fake-tts", "input": "two words", "voice": "onyx"}
        with httpx2.stream("POST", f"{url}/audio/speech", json=body, headers=auth) as spoken:
            assert spoken.headers["content-type"] == "audio/mpeg"
            assert spoken.headers["transfer-encoding"] == "chunked"
            assert spoken.read() == fake_speech("two words", "onyx")
        assert fake_speech("two words", "onyx") != fake_speech("two words", "nova")
        for bad in ({"voice": ""}, {"input": " "}, {"input": "x" * 4097}, {"model": "nope"}):
            refused = httpx2.post(f"{url}/audio/speech", json={**body, **bad}, headers=auth)
            assert refused.status_code in (400, 404), bad
