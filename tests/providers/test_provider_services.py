"""Credentials at rest, defaults and model calls for one workspace (real HTTP to the fake)."""

import time

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from apps.core.errors import AppError, InvalidParam
from apps.providers import services
from apps.providers.models import ProviderCredential
from apps.providers.runtime.base import ChatMessage
from apps.tenants import crypto
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def _compat(server, models="fake-chat, fake-embed:text-embedding"):
    return {"base_url": server.base_url, "api_key": server.api_key, "models": models}


def test_credentials_are_encrypted_at_rest_and_round_trip(fake_openai):
    workspace = make_workspace()
    credential = services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", credentials=_compat(fake_openai)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_credentials FROM providers_providercredential WHERE id = %s",
            [credential.pk],
        )
        stored = cursor.fetchone()[0]
    assert fake_openai.api_key not in stored and fake_openai.base_url not in stored
    assert services.provider_credentials_get(
        workspace=workspace, provider_name="openai_api_compatible"
    ) == {
        "base_url": fake_openai.base_url,
        "api_key": fake_openai.api_key,
        "models": "fake-chat, fake-embed:text-embedding",
    }
    assert credential.is_valid is True and credential.last_validated_at is not None


def test_secret_values_are_masked_and_a_masked_resubmit_keeps_them(fake_openai):
    workspace = make_workspace()
    credential = services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", credentials=_compat(fake_openai)
    )
    masked = services.provider_credentials_masked(credential)
    assert masked["api_key"] != fake_openai.api_key and "*" in masked["api_key"]
    assert masked["base_url"] == fake_openai.base_url
    services.provider_credentials_set(
        workspace=workspace,
        provider_name="openai_api_compatible",
        credentials={**_compat(fake_openai, "fake-chat"), "api_key": masked["api_key"]},
    )
    stored = services.provider_credentials_get(
        workspace=workspace, provider_name="openai_api_compatible"
    )
    assert stored["api_key"] == fake_openai.api_key and stored["models"] == "fake-chat"


def test_key_rotation_and_wrong_key(settings, fake_openai):
    workspace = make_workspace()
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_ENCRYPTION_KEYS = [old_key]
    services.provider_credentials_set(
        workspace=workspace,
        provider_name="openai_api_compatible",
        credentials=_compat(fake_openai),
        validate=False,
    )
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new_key, old_key]  # rotated: old still decrypts
    assert (
        services.provider_credentials_get(
            workspace=workspace, provider_name="openai_api_compatible"
        )["api_key"]
        == fake_openai.api_key
    )
    settings.CREDENTIALS_ENCRYPTION_KEYS = [new_key]  # old key dropped: clear error
    with pytest.raises(crypto.SecretDecryptError, match="cannot be decrypted"):
        services.provider_credentials_get(
            workspace=workspace, provider_name="openai_api_compatible"
        )


def test_bad_credentials_give_a_clear_error_and_save_nothing(fake_openai):
    workspace = make_workspace()
    with pytest.raises(AppError) as info:
        services.provider_credentials_set(
            workspace=workspace,
            provider_name="openai_api_compatible",
            credentials={**_compat(fake_openai), "api_key": "sk-wrong-secret-123"},
        )
    assert info.value.code == "provider_credentials_invalid"
    assert "sk-wrong-secret-123" not in info.value.message
    assert not ProviderCredential.objects.filter(workspace=workspace).exists()
    with pytest.raises(InvalidParam, match="base_url"):
        services.provider_credentials_set(
            workspace=workspace, provider_name="openai_api_compatible", credentials={}
        )
    with pytest.raises(InvalidParam, match="unknown credential field"):
        services.provider_credentials_set(
            workspace=workspace,
            provider_name="openai_api_compatible",
            credentials={**_compat(fake_openai), "colour": "red"},
        )
    with pytest.raises(AppError, match="unknown provider"):
        services.provider_credentials_set(
            workspace=workspace, provider_name="anthropic-ish", credentials={}
        )


def test_revalidation_records_failure(fake_openai):
    workspace = make_workspace()
    credential = services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", credentials=_compat(fake_openai)
    )
    fake_openai.fail_next(401, "Incorrect API key provided", code="invalid_api_key", times=3)
    ok, error = services.provider_credentials_validate(credential=credential)
    assert not ok and error
    credential.refresh_from_db()
    assert credential.is_valid is False and credential.last_error == error


def test_default_models_and_listing(fake_openai):
    workspace = make_workspace()
    services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", credentials=_compat(fake_openai)
    )
    services.default_model_set(
        workspace=workspace,
        model_type="llm",
        provider_name="openai_api_compatible",
        model="fake-chat",
    )
    rows = {
        (m.provider, m.model, m.model_type, m.is_default)
        for m in services.models_list(workspace=workspace)
    }
    assert ("openai_api_compatible", "fake-chat", "llm", True) in rows
    assert ("openai_api_compatible", "fake-embed", "text-embedding", False) in rows
    assert ("minilm", "all-MiniLM-L6-v2", "text-embedding", False) in rows
    with pytest.raises(InvalidParam, match="no llm model"):
        services.default_model_set(
            workspace=workspace,
            model_type="llm",
            provider_name="openai_api_compatible",
            model="fake-embed",
        )
    with pytest.raises(InvalidParam):
        services.default_model_set(
            workspace=workspace, model_type="painting", provider_name="openai", model="x"
        )


def test_workspace_runtime_streams_tokens_with_usage(fake_openai):
    workspace = make_workspace()
    services.provider_credentials_set(
        workspace=workspace,
        provider_name="openai_api_compatible",
        credentials=_compat(fake_openai),
        validate=False,
    )
    services.default_model_set(
        workspace=workspace,
        model_type="llm",
        provider_name="openai_api_compatible",
        model="fake-chat",
    )
    fake_openai.reply_text = "one two three four five six"
    fake_openai.chunk_delay = 0.15
    runtime = services.WorkspaceModelRuntime(workspace)
    arrivals, text, usage = [], "", None
    for chunk in runtime.chat_stream([ChatMessage(role="user", content="count")]):
        if chunk.delta:
            arrivals.append(time.monotonic())
            text += chunk.delta
        usage = chunk.usage or usage
    assert text == "one two three four five six"
    assert len(arrivals) >= 3 and arrivals[-1] - arrivals[0] >= 0.2  # tokens arrive over time
    assert usage is not None and usage.completion_tokens > 0 and usage.total_tokens > 0
    blocking = runtime.chat([ChatMessage(role="user", content="hi")])
    assert blocking.text == "one two three four five six" and blocking.usage.total_tokens > 0


def test_runtime_without_default_or_provider_is_provider_not_initialize(fake_openai):
    workspace = make_workspace()
    runtime = services.WorkspaceModelRuntime(workspace)
    with pytest.raises(services.ProviderNotInitialized):
        runtime.chat([ChatMessage(role="user", content="hi")])
    with pytest.raises(services.ProviderNotInitialized):
        runtime.chat([ChatMessage(role="user", content="hi")], provider="openai", model="gpt-4o")


def test_provider_errors_become_coded_app_errors(fake_openai):
    workspace = make_workspace()
    services.provider_credentials_set(
        workspace=workspace,
        provider_name="openai_api_compatible",
        credentials=_compat(fake_openai),
        validate=False,
    )
    runtime = services.WorkspaceModelRuntime(workspace)
    fake_openai.fail_next(429, "Rate limit reached", code="rate_limit_exceeded", times=5)
    with pytest.raises(AppError) as info:
        runtime.chat(
            [ChatMessage(role="user", content="hi")],
            provider="openai_api_compatible",
            model="fake-chat",
        )
    assert info.value.code == "rate_limit_error" and info.value.status == 429


def test_minilm_embeds_offline_through_the_workspace_runtime():
    workspace = make_workspace()
    result = services.WorkspaceModelRuntime(workspace).embed(
        ["a cat sits on the mat", "a kitten rests on a rug", "stock prices fell"],
        provider="minilm",
        model="all-MiniLM-L6-v2",
    )
    assert len(result.vectors) == 3 and all(len(v) == 384 for v in result.vectors)

    def cos(x, y):
        return sum(a * b for a, b in zip(x, y, strict=True))

    v = result.vectors
    assert cos(v[0], v[1]) > cos(v[0], v[2])


def test_workspace_chat_stream_goes_through_the_ssrf_guard(fake_openai, settings):
    """The streamed request takes the fast path on the guarded client: still refused."""
    workspace = make_workspace()
    services.provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials=_compat(fake_openai), validate=False,
    )  # fmt: skip
    services.default_model_set(
        workspace=workspace, model_type="llm", provider_name="openai_api_compatible",
        model="fake-chat",
    )  # fmt: skip
    settings.PROVIDER_ALLOWED_NETWORKS = []  # loopback is private: refused
    runtime = services.WorkspaceModelRuntime(workspace)
    with pytest.raises(AppError) as info:
        list(runtime.chat_stream([ChatMessage(role="user", content="hi")]))
    assert info.value.code == "invoke_connection_error"
    assert fake_openai.requests_to("/chat/completions") == []
