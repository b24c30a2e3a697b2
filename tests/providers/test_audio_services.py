"""The workspace's speech models: defaults, the SSRF-guarded calls, set_provider, the admin."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import call_command

from apps.core.errors import AppError, InvalidParam
from apps.providers import services
from apps.providers.admin import DefaultModelForm
from apps.providers.models import DefaultModel
from tests.factories import make_workspace
from tests.fakes.openai_server import AUDIO_MODELS, DEFAULT_MODELS, FakeOpenAIServer, fake_speech

pytestmark = pytest.mark.django_db
MODELS = "fake-chat, fake-whisper:speech2text, fake-tts:tts"


@pytest.fixture
def server():
    with FakeOpenAIServer(models=DEFAULT_MODELS + AUDIO_MODELS) as fake:
        yield fake


def _connect(workspace, server, **extra):
    credentials = {"base_url": server.base_url, "api_key": server.api_key, "models": MODELS}
    services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials={**credentials, **extra}, validate=False,
    )  # fmt: skip


def _defaults(workspace):
    for kind, model in (("speech2text", "fake-whisper"), ("tts", "fake-tts")):
        services.default_model_set(
            workspace=workspace, model_type=kind, provider_name="openai_api_compatible",
            model=model,
        )  # fmt: skip


def test_runtime_uses_the_default_speech_models(server):
    workspace = make_workspace()
    _connect(workspace, server, voices="nova, echo")
    _defaults(workspace)
    runtime = services.WorkspaceModelRuntime(workspace)
    text = runtime.speech_to_text(b"abc", filename="a.mp3", mime_type="audio/mp3")
    assert text == f"a.mp3: 3 bytes, sha256 {hashlib.sha256(b'abc').hexdigest()[:16]}"
    assert server.requests[-1].json["model"] == "fake-whisper"
    assert b"".join(runtime.text_to_speech("good day")) == fake_speech("good day", "nova")
    assert b"".join(runtime.text_to_speech("good day", voice="echo")) == fake_speech(
        "good day", "echo"
    )
    assert [r.json["voice"] for r in server.requests_to("/audio/speech")] == ["nova", "echo"]


def test_no_default_speech_model_is_provider_not_initialize(server):
    workspace = make_workspace()
    _connect(workspace, server)
    runtime = services.WorkspaceModelRuntime(workspace)
    with pytest.raises(services.ProviderNotInitialized):
        runtime.speech_to_text(b"abc", filename="a.mp3", mime_type="audio/mp3")
    with pytest.raises(services.ProviderNotInitialized):
        runtime.text_to_speech("hi")
    assert server.requests == []


def test_speech_errors_are_coded_and_raised_on_the_first_chunk(server):
    workspace = make_workspace()
    _connect(workspace, server)
    _defaults(workspace)
    runtime = services.WorkspaceModelRuntime(workspace)
    chunks = runtime.text_to_speech("hi", voice="alloy")
    assert server.requests == []  # nothing sent before the first next()
    server.fail_next(400, "voice is not available")
    with pytest.raises(AppError) as info:
        next(chunks)
    assert info.value.code == "completion_request_error"
    assert "voice is not available" in info.value.message
    with pytest.raises(AppError) as info:
        runtime.speech_to_text(
            b"x", filename="a.mp3", mime_type="audio/mp3", provider="openai_api_compatible",
            model="gone",
        )  # fmt: skip
    assert info.value.code == "completion_request_error"  # the server's 404 for the model
    with pytest.raises(AppError) as info:
        runtime.speech_to_text(
            b"x", filename="a.mp3", mime_type="audio/mp3", provider="minilm",
            model="all-MiniLM-L6-v2",
        )  # fmt: skip
    assert info.value.code == "model_currently_not_support"


def test_provider_calls_go_through_the_ssrf_guard(server, settings):
    workspace = make_workspace()
    _connect(workspace, server)
    _defaults(workspace)
    settings.PROVIDER_ALLOWED_NETWORKS = []  # loopback is private: refused again
    runtime = services.WorkspaceModelRuntime(workspace)
    with pytest.raises(AppError) as info:
        runtime.speech_to_text(b"x", filename="a.mp3", mime_type="audio/mp3")
    assert info.value.code == "invoke_connection_error"
    with pytest.raises(AppError):
        next(runtime.text_to_speech("hi", voice="alloy"))
    assert server.requests == []


def test_set_provider_sets_the_speech_defaults(server):
    workspace = make_workspace("Speech")
    out = io.StringIO()
    call_command(
        "set_provider", "Speech", "openai_api_compatible", "--no-validate",
        "--credential", f"base_url={server.base_url}", "--credential", f"models={MODELS}",
        "--default-speech2text", "fake-whisper", "--default-tts", "fake-tts", stdout=out,
    )  # fmt: skip
    defaults = {d.model_type: d.model for d in DefaultModel.objects.filter(workspace=workspace)}
    assert defaults == {"speech2text": "fake-whisper", "tts": "fake-tts"}
    assert "default tts model: openai_api_compatible/fake-tts" in out.getvalue()
    with pytest.raises(InvalidParam, match="no tts model"):
        services.default_model_set(
            workspace=workspace, model_type="tts", provider_name="openai_api_compatible",
            model="fake-whisper",
        )  # fmt: skip


def test_admin_default_model_form_accepts_speech_models(server):
    workspace = make_workspace()
    _connect(workspace, server)
    for kind, model, ok in (
        ("speech2text", "fake-whisper", True), ("tts", "fake-tts", True),
        ("tts", "fake-chat", False),
    ):  # fmt: skip
        form = DefaultModelForm(data={
            "workspace": workspace.pk, "model_type": kind,
            "provider": "openai_api_compatible", "model": model,
        })  # fmt: skip
        assert form.is_valid() is ok, form.errors
