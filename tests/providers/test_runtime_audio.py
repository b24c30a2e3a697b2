"""Speech to text and text to speech of the OpenAI-family providers (real HTTP, fake server)."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator

import pytest

from apps.providers.runtime import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    ModelNotSupportedError,
    ModelType,
)
from apps.providers.runtime.minilm import MiniLMProvider
from apps.providers.runtime.openai_audio import split_for_speech
from apps.providers.runtime.openai_compatible import OpenAICompatibleProvider, parse_models
from apps.providers.runtime.openai_provider import TTS_VOICES, OpenAIProvider
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer, fake_speech


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS) as fake:
        yield fake


@pytest.fixture
def compatible(server: FakeOpenAIServer) -> tuple[OpenAICompatibleProvider, dict[str, str]]:
    creds = {"base_url": server.base_url, "api_key": server.api_key or "",
             "models": "fake-chat, fake-whisper:speech2text, fake-tts:tts"}  # fmt: skip
    return OpenAICompatibleProvider(max_retries=0), creds


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def test_speech_to_text_uploads_the_bytes_as_multipart(server, compatible) -> None:
    provider, creds = compatible
    audio = os.urandom(5000) + b"\r\n--boundary-lookalike\r\n" + os.urandom(100)
    text = provider.speech_to_text(creds, "fake-whisper", audio, "memo.m4a", "audio/m4a")
    assert text == f"memo.m4a: {len(audio)} bytes, sha256 {_digest(audio)}"
    sent = server.requests[-1]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.headers["authorization"] == f"Bearer {server.api_key}"
    assert sent.json["model"] == "fake-whisper"
    part = sent.files["file"]
    assert (part.filename, part.content_type, part.data) == ("memo.m4a", "audio/m4a", audio)


def test_text_to_speech_streams_the_audio_in_pieces(server, compatible) -> None:
    provider, creds = compatible
    server.chunk_delay = 0.01
    chunks = list(provider.text_to_speech(creds, "fake-tts", "Hello there, big world", "echo"))
    assert b"".join(chunks) == fake_speech("Hello there, big world", "echo")
    assert len(chunks) > 1  # read as the server sent it, not buffered to the end
    sent = server.requests[-1]
    assert sent.path == "/v1/audio/speech"
    assert sent.json == {"model": "fake-tts", "input": "Hello there, big world",
                         "voice": "echo", "response_format": "mp3"}  # fmt: skip


def test_long_text_is_spoken_in_pieces_under_the_input_limit(server, compatible) -> None:
    provider, creds = compatible
    sentence = "This sentence has exactly eight words in it. "
    text = sentence * 200  # 9,000 characters: over OpenAI's 4,096
    audio = b"".join(provider.text_to_speech(creds, "fake-tts", text, "alloy"))
    inputs = [r.json["input"] for r in server.requests_to("/audio/speech")]
    assert len(inputs) == 3 and all(len(i) <= 4096 for i in inputs)
    assert " ".join(inputs).split() == text.split()  # nothing lost, nothing repeated
    assert audio == b"".join(fake_speech(i, "alloy") for i in inputs)


def test_split_for_speech_cuts_at_sentences_then_words_then_anywhere() -> None:
    assert split_for_speech("  short  ") == ["short"]
    assert split_for_speech("   ") == []
    assert split_for_speech("One. Two! Three?", limit=9) == ["One. Two!", "Three?"]
    assert split_for_speech("alpha beta gamma delta", limit=11) == ["alpha beta", "gamma delta"]
    assert split_for_speech("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_provider_errors_surface_as_runtime_errors(server, compatible) -> None:
    provider, creds = compatible
    server.fail_next(400, "bad audio")
    with pytest.raises(InvokeBadRequestError, match="bad audio"):
        provider.speech_to_text(creds, "fake-whisper", b"x", "a.mp3", "audio/mp3")
    with pytest.raises(InvokeBadRequestError, match="does not exist"):
        list(provider.text_to_speech(creds, "nope", "hi", "alloy"))
    wrong = {**creds, "api_key": "sk-wrong-key-1234"}
    with pytest.raises(InvokeAuthorizationError) as info:
        list(provider.text_to_speech(wrong, "fake-tts", "hi", "alloy"))
    assert "sk-wrong-key-1234" not in str(info.value)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    gone = {**creds, "base_url": f"http://127.0.0.1:{closed}/v1"}
    with pytest.raises(InvokeConnectionError):
        provider.speech_to_text(gone, "fake-whisper", b"x", "a.mp3", "audio/mp3")


def test_openai_lists_speech_models_and_voices(server) -> None:
    provider = OpenAIProvider(max_retries=0)
    creds = {"openai_api_key": server.api_key or "", "openai_api_base": server.base_url}
    models = {m.model: m for m in provider.list_models(creds)}
    assert models["whisper-1"].model_type == ModelType.SPEECH2TEXT
    for name in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"):
        assert models[name].model_type == ModelType.TTS and models[name].voices[0] == "alloy"
    assert "ballad" in models["gpt-4o-mini-tts"].voices and "ballad" not in models["tts-1"].voices
    assert provider.tts_voices(creds, "tts-1") == list(TTS_VOICES)
    assert provider.supports(ModelType.SPEECH2TEXT) and provider.supports(ModelType.TTS)


def test_openai_replaces_a_voice_the_model_lacks_with_its_default() -> None:
    with FakeOpenAIServer(models=("tts-1", "whisper-1")) as fake:
        provider = OpenAIProvider(max_retries=0)
        creds = {"openai_api_key": fake.api_key or "", "openai_api_base": fake.base_url}
        assert b"".join(provider.text_to_speech(creds, "tts-1", "hi", "nova")) == fake_speech(
            "hi", "nova"
        )
        assert b"".join(provider.text_to_speech(creds, "tts-1", "hi", "ballad")) == fake_speech(
            "hi", "alloy"
        )
        assert fake.requests[-1].json["voice"] == "alloy"
        audio = b"wav bytes"
        text = provider.speech_to_text(creds, "whisper-1", audio, "a.wav", "audio/wav")
        assert text == f"a.wav: 9 bytes, sha256 {_digest(audio)}"


def test_compatible_speech_suffixes_guesses_and_voices(server, compatible) -> None:
    provider, creds = compatible
    assert parse_models("w:speech2text, s:tts, llama3:8b") == [
        ("w", ModelType.SPEECH2TEXT), ("s", ModelType.TTS), ("llama3:8b", ModelType.LLM),
    ]  # fmt: skip
    models = {m.model: m for m in provider.list_models(creds)}
    assert models["fake-tts"].voices == TTS_VOICES and models["fake-whisper"].voices == ()
    assert provider.tts_voices(creds, "fake-tts")[0] == "alloy"
    custom = {**creds, "voices": "af_bella, bm_george"}
    assert provider.tts_voices(custom, "fake-tts") == ["af_bella", "bm_george"]
    guessed = {m.model: m.model_type for m in provider.list_models({**creds, "models": ""})}
    assert guessed["fake-whisper"] == ModelType.SPEECH2TEXT
    assert guessed["fake-tts"] == ModelType.TTS and guessed["fake-chat"] == ModelType.LLM
    assert provider.supports(ModelType.TTS) and provider.supports(ModelType.SPEECH2TEXT)


def test_a_provider_without_audio_refuses() -> None:
    provider = MiniLMProvider()
    with pytest.raises(ModelNotSupportedError):
        provider.speech_to_text({}, "all-MiniLM-L6-v2", b"x", "a.mp3", "audio/mp3")
    with pytest.raises(ModelNotSupportedError):
        list(provider.text_to_speech({}, "all-MiniLM-L6-v2", "hi", "alloy"))
    assert provider.tts_voices({}, "all-MiniLM-L6-v2") == []
