"""OpenAI and OpenAI-API-compatible providers against the loopback fake server (real HTTP)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from apps.providers.runtime import (
    ChatMessage,
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
    ModelType,
    ProviderNotFoundError,
    ProviderRegistry,
    ToolCall,
    ToolSpec,
    register_builtin_providers,
)
from apps.providers.runtime.openai_compatible import OpenAICompatibleProvider, parse_models
from apps.providers.runtime.openai_provider import OpenAIProvider, api_base
from tests.fakes.openai_server import FakeOpenAIServer, fake_embedding

WEATHER = ToolSpec(
    "get_weather",
    "Current weather of a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def openai_provider() -> OpenAIProvider:
    return OpenAIProvider(max_retries=0)


@pytest.fixture
def creds(fake_openai: FakeOpenAIServer) -> dict[str, str]:
    return {"openai_api_key": fake_openai.api_key or "", "openai_api_base": fake_openai.base_url}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_chat_returns_text_and_usage(
    openai_provider: OpenAIProvider, creds: dict[str, str]
) -> None:
    result = openai_provider.chat(creds, "fake-chat", [ChatMessage.user("say hello please")])
    assert result.text == "Hello from the fake model."
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (3, 5)
    assert result.usage.total_tokens == 8
    assert result.usage.latency > 0


def test_chat_stream_yields_deltas_in_order_and_usage_last(
    openai_provider: OpenAIProvider, creds: dict[str, str]
) -> None:
    chunks = list(openai_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("hi")]))
    deltas = [c.delta for c in chunks if c.delta]
    assert len(deltas) >= 3
    assert "".join(deltas) == "Hello from the fake model."
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.usage is not None and last.usage.completion_tokens == 5
    assert last.finish_reason == "stop"


def test_chat_stream_keeps_the_connection_for_the_next_message(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    for _ in range(3):
        chunks = list(openai_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("hi")]))
        assert "".join(c.delta for c in chunks) == "Hello from the fake model."
    ports = {r.client_port for r in fake_openai.requests_to("/chat/completions")}
    assert len(ports) == 1  # read to the end of the body, the connection went back to the pool


def test_chat_stream_error_event_mid_stream_is_a_provider_error() -> None:
    from apps.providers.runtime.openai_common import _stream_chunks

    class _Response:
        request = None

        def iter_lines(self):
            yield 'data: {"choices": [{"delta": {"content": "a"}}]}'
            yield ""
            yield ": keep-alive comment"
            yield 'data: {"error": {"message": "overloaded"}}'
            yield ""

    stream = _stream_chunks(_Response())  # type: ignore[arg-type]
    assert next(stream)["choices"][0]["delta"]["content"] == "a"
    with pytest.raises(openai.APIError, match="overloaded"):
        next(stream)


def test_chat_stream_assembles_streamed_tool_calls(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue_tool_calls(
        {"id": "call_a", "name": "get_weather", "arguments": {"city": "Paris, France"}},
        {"id": "call_b", "name": "get_weather", "arguments": {"city": "Oslo"}},
    )
    chunks = list(
        openai_provider.chat_stream(
            creds, "fake-chat", [ChatMessage.user("weather?")], tools=[WEATHER]
        )
    )
    calls = chunks[-1].tool_calls
    assert [(c.id, c.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "get_weather")]
    assert json.loads(calls[0].arguments) == {"city": "Paris, France"}
    assert chunks[-1].finish_reason == "tool_calls"
    sent = fake_openai.requests_to("/chat/completions")[-1].json
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["stream_options"] == {"include_usage": True}


def test_chat_returns_tool_calls_when_blocking(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue_tool_calls({"id": "call_1", "name": "get_weather", "arguments": '{"a": 1}'})
    result = openai_provider.chat(creds, "fake-chat", [ChatMessage.user("x")], tools=[WEATHER])
    assert result.tool_calls == [ToolCall("call_1", "get_weather", '{"a": 1}')]
    assert result.text == "" and result.finish_reason == "tool_calls"


def test_tool_result_messages_round_trip(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    call = ToolCall("call_9", "get_weather", '{"city": "Rome"}')
    messages = [
        ChatMessage.system("You are terse."),
        ChatMessage.user("weather in Rome?"),
        ChatMessage.assistant(tool_calls=[call]),
        ChatMessage.tool('{"temp": 21}', tool_call_id="call_9"),
    ]
    openai_provider.chat(creds, "fake-chat", messages, tools=[WEATHER], user="end-user-1")
    sent = fake_openai.requests_to("/chat/completions")[-1].json
    assert sent["messages"][2]["tool_calls"][0]["id"] == "call_9"
    assert sent["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Rome"}'
    assert sent["messages"][3] == {
        "role": "tool",
        "content": '{"temp": 21}',
        "tool_call_id": "call_9",
    }
    assert sent["user"] == "end-user-1"


def test_parameters_pass_through_only_known_keys(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    parameters = {"temperature": 0.2, "max_tokens": 2, "bogus": 1, "response_format": "json_object"}
    result = openai_provider.chat(
        creds, "fake-chat", [ChatMessage.user("x")], parameters=parameters, stop=["\n"]
    )
    sent = fake_openai.requests_to("/chat/completions")[-1].json
    assert "bogus" not in sent
    assert sent["temperature"] == 0.2 and sent["stop"] == ["\n"]
    assert sent["response_format"] == {"type": "json_object"}
    assert result.text == "Hello from" and result.finish_reason == "length"


def test_reasoning_models_get_max_completion_tokens(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.models.append("o3-mini")
    parameters = {"max_tokens": 5, "temperature": 0.3}
    openai_provider.chat(creds, "o3-mini", [ChatMessage.user("x")], parameters=parameters)
    sent = fake_openai.requests_to("/chat/completions")[-1].json
    assert sent["max_completion_tokens"] == 5
    assert "max_tokens" not in sent and "temperature" not in sent


def test_reasoning_content_is_reported(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reasoning_text = "think first"
    messages = [ChatMessage.user("x")]
    assert openai_provider.chat(creds, "fake-chat", messages).reasoning_content == "think first"
    chunks = list(openai_provider.chat_stream(creds, "fake-chat", messages))
    assert "".join(c.reasoning_delta for c in chunks).strip() == "think first"


def test_usage_is_estimated_when_the_server_sends_none(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.send_usage = False
    chunks = list(openai_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x" * 40)]))
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == 10  # 40 characters / 4
    assert usage.completion_tokens == (len("Hello from the fake model.") + 3) // 4
    assert openai_provider.chat(creds, "fake-chat", [ChatMessage.user("abcd")]).usage.total_tokens


def test_chat_stream_is_not_buffered(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.chunk_delay = 0.2
    started = time.perf_counter()
    arrivals = [
        time.perf_counter() - started
        for chunk in openai_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")])
        if chunk.delta
    ]
    assert len(arrivals) >= 3
    assert arrivals[-1] - arrivals[0] >= 0.6
    assert arrivals[0] < arrivals[-1] / 2


def test_validate_with_bad_key_fails_without_leaking_the_key(
    openai_provider: OpenAIProvider, creds: dict[str, str]
) -> None:
    bad_key = "sk-wrong-0123456789abcdef"
    with pytest.raises(CredentialsValidateFailedError) as info:
        openai_provider.validate_credentials({**creds, "openai_api_key": bad_key})
    assert "Incorrect API key" in info.value.message
    assert bad_key not in str(info.value) and "0123456789" not in str(info.value)
    assert info.value.code == "provider_credentials_invalid"


def test_error_messages_echoing_the_key_are_redacted(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail_next(401, f"Incorrect API key provided: {creds['openai_api_key']}.")
    with pytest.raises(InvokeAuthorizationError) as info:
        openai_provider.chat(creds, "fake-chat", [ChatMessage.user("x")])
    assert creds["openai_api_key"] not in str(info.value)


def test_validate_with_good_key_passes(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    openai_provider.validate_credentials(creds)
    assert fake_openai.requests_to("/models")


def test_missing_required_credential_is_named(openai_provider: OpenAIProvider) -> None:
    with pytest.raises(CredentialsValidateFailedError, match="openai_api_key"):
        openai_provider.validate_credentials({"openai_api_base": "http://127.0.0.1:1/v1"})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (429, InvokeRateLimitError),
        (500, InvokeServerUnavailableError),
        (503, InvokeServerUnavailableError),
        (400, InvokeBadRequestError),
        (403, InvokeAuthorizationError),
    ],
)
def test_http_errors_map_to_invoke_errors(
    openai_provider: OpenAIProvider,
    creds: dict[str, str],
    fake_openai: FakeOpenAIServer,
    status: int,
    error: type[Exception],
) -> None:
    fake_openai.fail_next(status, "scripted")
    with pytest.raises(error, match="scripted"):
        openai_provider.chat(creds, "fake-chat", [ChatMessage.user("x")])


def test_stream_errors_surface_while_iterating(
    openai_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail_next(429, "Rate limit reached")
    with pytest.raises(InvokeRateLimitError):
        list(openai_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")]))


def test_unknown_model_is_a_bad_request(
    openai_provider: OpenAIProvider, creds: dict[str, str]
) -> None:
    with pytest.raises(InvokeBadRequestError, match="does not exist"):
        openai_provider.chat(creds, "no-such-model", [ChatMessage.user("x")])


def test_server_down_is_a_connection_error(openai_provider: OpenAIProvider) -> None:
    creds = {"openai_api_key": "sk-x", "openai_api_base": f"http://127.0.0.1:{_closed_port()}/v1"}
    with pytest.raises(InvokeConnectionError):
        openai_provider.chat(creds, "fake-chat", [ChatMessage.user("x")])
    with pytest.raises(CredentialsValidateFailedError, match="connect"):
        openai_provider.validate_credentials(creds)


def test_embed_returns_vectors_and_usage(
    openai_provider: OpenAIProvider, creds: dict[str, str]
) -> None:
    result = openai_provider.embed(creds, "fake-embed", ["first text", "second one here"])
    assert [len(v) for v in result.vectors] == [8, 8]
    assert result.vectors[0] == pytest.approx(fake_embedding("first text"))
    assert result.usage.prompt_tokens == 5


def test_http_client_factory_is_used(fake_openai: FakeOpenAIServer, creds: dict[str, str]) -> None:
    made: list[httpx2.Client] = []

    def factory() -> httpx2.Client:
        made.append(httpx2.Client())
        return made[-1]

    provider = OpenAIProvider(factory, max_retries=0)
    provider.chat(creds, "fake-chat", [ChatMessage.user("x")])
    provider.chat(creds, "fake-chat", [ChatMessage.user("again")])
    # one client per credential set, kept (pool + TLS context reused), closed on close_clients
    assert len(made) == 1 and not made[0].is_closed
    provider.chat({**creds, "openai_organization": "org-2"}, "fake-chat", [ChatMessage.user("y")])
    assert len(made) == 2
    provider.close_clients()
    assert all(client.is_closed for client in made)


def test_organization_is_sent_and_host_env_never_leaks(
    openai_provider: OpenAIProvider,
    creds: dict[str, str],
    fake_openai: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-host")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-host")
    openai_provider.chat(creds, "fake-chat", [ChatMessage.user("x")])
    headers = fake_openai.requests[-1].headers
    assert "openai-organization" not in headers and "openai-project" not in headers
    openai_provider.chat(
        {**creds, "openai_organization": "org-t"}, "fake-chat", [ChatMessage.user("x")]
    )
    assert fake_openai.requests[-1].headers["openai-organization"] == "org-t"


def test_openai_static_models_and_api_base() -> None:
    models = {m.model: m for m in OpenAIProvider().list_models({})}
    assert models["text-embedding-3-large"].dimensions == 3072
    assert models["gpt-4o"].model_type is ModelType.LLM
    assert api_base("") == "https://api.openai.com/v1"
    assert api_base("https://api.openai.com/") == "https://api.openai.com/v1"
    assert api_base("http://proxy:8080/openai/v1") == "http://proxy:8080/openai/v1"


def test_compatible_parses_models_with_type_suffix(fake_openai: FakeOpenAIServer) -> None:
    assert parse_models("llama3:8b, nomic-embed:text-embedding,\nqwen:llm, llama3:8b") == [
        ("llama3:8b", ModelType.LLM),
        ("nomic-embed", ModelType.TEXT_EMBEDDING),
        ("qwen", ModelType.LLM),
    ]
    provider = OpenAICompatibleProvider(max_retries=0)
    creds = {
        "base_url": fake_openai.base_url,
        "models": "a, b:text-embedding",
        "context_size": "4096",
    }
    models = provider.list_models(creds)
    assert [(m.model, m.model_type, m.context_size) for m in models] == [
        ("a", ModelType.LLM, 4096),
        ("b", ModelType.TEXT_EMBEDDING, None),
    ]
    assert not fake_openai.requests  # parsed, no network


def test_compatible_falls_back_to_get_models(fake_openai: FakeOpenAIServer) -> None:
    provider = OpenAICompatibleProvider(max_retries=0)
    creds = {"base_url": fake_openai.base_url, "api_key": fake_openai.api_key or ""}
    models = {m.model: m.model_type for m in provider.list_models(creds)}
    assert models == {
        "fake-chat": ModelType.LLM,
        "fake-chat-large": ModelType.LLM,
        "fake-embed": ModelType.TEXT_EMBEDDING,
        "fake-rerank": ModelType.RERANK,
        "fake-moderation": ModelType.MODERATION,
        "omni-moderation-latest": ModelType.MODERATION,
    }
    assert fake_openai.requests[-1].path == "/v1/models"


def test_compatible_rerank_orders_documents_and_validates(fake_openai: FakeOpenAIServer) -> None:
    provider = OpenAICompatibleProvider(max_retries=0)
    creds = {"base_url": fake_openai.base_url, "api_key": fake_openai.api_key or "",
             "models": "fake-rerank:rerank"}  # fmt: skip
    assert parse_models(creds["models"]) == [("fake-rerank", ModelType.RERANK)]
    documents = ["bananas are yellow", "the capital of France is Paris", "France by night"]
    result = provider.rerank(creds, "fake-rerank", "capital of France", documents, top_n=2)
    assert [index for index, _ in result.ranked] == [1, 2]
    assert result.ranked[0][1] == 1.0 and result.ranked[1][1] < 1.0
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/rerank" and sent.json["top_n"] == 2
    assert sent.json["documents"] == documents
    assert provider.rerank(creds, "fake-rerank", "q", []).ranked == []
    provider.validate_credentials(creds)  # a real rerank call
    assert fake_openai.requests[-1].path == "/v1/rerank"
    bad = {**creds, "api_key": "sk-wrong"}
    with pytest.raises(CredentialsValidateFailedError):
        provider.validate_credentials(bad)


def test_compatible_keyless_server_chat_stream_and_validate() -> None:
    with FakeOpenAIServer(api_key=None) as server:
        provider = OpenAICompatibleProvider(max_retries=0)
        creds = {"base_url": server.base_url, "models": "fake-chat, fake-embed:text-embedding"}
        provider.validate_credentials(creds)
        first = server.requests[-1]
        assert first.json["max_tokens"] == 1 and first.json["model"] == "fake-chat"
        assert first.headers["authorization"] == "Bearer not-needed"
        text = "".join(
            c.delta for c in provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")])
        )
        assert text == server.reply_text
        assert len(provider.embed(creds, "fake-embed", ["x"]).vectors[0]) == 8


def test_compatible_validate_uses_embedding_model_then_reports_failure(
    fake_openai: FakeOpenAIServer,
) -> None:
    provider = OpenAICompatibleProvider(max_retries=0)
    creds = {
        "base_url": fake_openai.base_url,
        "api_key": "sk-bad-key-123456",
        "models": "fake-embed:text-embedding",
    }
    with pytest.raises(CredentialsValidateFailedError) as info:
        provider.validate_credentials(creds)
    assert fake_openai.requests[-1].path == "/v1/embeddings"
    assert "sk-bad-key-123456" not in str(info.value)
    with pytest.raises(CredentialsValidateFailedError, match="base_url"):
        provider.validate_credentials({"models": "x"})
    with pytest.raises(CredentialsValidateFailedError, match="http"):
        provider.validate_credentials({"base_url": "ftp://example.com"})


def test_registry_rejects_duplicates_and_unknown_names() -> None:
    registry = ProviderRegistry()
    provider = registry.register(OpenAIProvider())
    assert "openai" in registry and registry.get("openai") is provider
    with pytest.raises(ValueError, match="already registered"):
        registry.register(OpenAIProvider())
    with pytest.raises(ProviderNotFoundError) as info:
        registry.get("nope")
    assert info.value.code == "provider_not_found"


def test_register_builtin_providers_is_idempotent() -> None:
    registry = ProviderRegistry()
    register_builtin_providers(registry)
    register_builtin_providers(registry)
    assert [p.name for p in registry.all()] == ["openai", "openai_api_compatible", "minilm"]


def test_compatible_moderation_flags_and_validates(fake_openai: FakeOpenAIServer) -> None:
    provider = OpenAICompatibleProvider(max_retries=0)
    creds = {"base_url": fake_openai.base_url, "api_key": fake_openai.api_key or "",
             "models": "fake-moderation:moderation"}  # fmt: skip
    assert parse_models(creds["models"]) == [("fake-moderation", ModelType.MODERATION)]
    flagged = provider.moderate(creds, "fake-moderation", "I will KILL the process")
    assert flagged.flagged and flagged.categories == ("violence",)
    assert not provider.moderate(creds, "fake-moderation", "a kind word").flagged
    sent = fake_openai.requests_to("/v1/moderations")[-1].json
    assert sent == {"model": "fake-moderation", "input": "a kind word"}
    provider.validate_credentials(creds)  # a real moderation call
    assert fake_openai.requests[-1].path == "/v1/moderations"


def test_openai_moderation_through_the_openai_provider(fake_openai: FakeOpenAIServer) -> None:
    provider = OpenAIProvider(max_retries=0)
    creds = {"openai_api_key": fake_openai.api_key or "", "openai_api_base": fake_openai.base_url}
    result = provider.moderate(creds, "omni-moderation-latest", "kill")
    assert result.flagged and result.model == "omni-moderation-latest"


def test_list_prices_and_costs_round_like_dify() -> None:
    from decimal import Decimal

    pricing = OpenAIProvider().list_price("gpt-4o-mini")
    assert pricing is not None and pricing.input == Decimal("0.15")
    cost = pricing.cost(1000, 500)
    assert cost.prompt_price == Decimal("0.0001500")
    assert cost.completion_price == Decimal("0.0003000")
    assert cost.total_price == Decimal("0.0004500") and cost.currency == "USD"
    assert OpenAIProvider().list_price("no-such-model") is None
    assert OpenAICompatibleProvider().list_price("fake-chat") is None
    tiny = pricing.cost(1, 0)  # 0.15e-6 rounds half up to 7 decimals
    assert tiny.prompt_price == Decimal("0.0000002")


@pytest.fixture
def pooled_provider() -> OpenAIProvider:
    """As the platform builds it: its own HTTP client per SDK client (the fast stream path)."""
    return OpenAIProvider(lambda: httpx2.Client(), max_retries=0)


def test_fast_stream_path_sends_what_the_sdk_sends(
    pooled_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.reply_text = "one two three"
    messages = [ChatMessage.system("be terse"), ChatMessage.user("count")]
    chunks = list(pooled_provider.chat_stream(creds, "fake-chat", messages, user="u-1"))
    assert "".join(c.delta for c in chunks) == "one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    (fast,) = fake_openai.requests_to("/chat/completions")  # one request: it was not refused
    sdk_provider = OpenAIProvider(max_retries=0)
    list(sdk_provider.chat_stream(creds, "fake-chat", messages, user="u-1"))
    sdk = fake_openai.requests_to("/chat/completions")[-1]
    assert fast.json == sdk.json and fast.json["stream"] is True
    assert fast.json["stream_options"] == {"include_usage": True} and fast.json["user"] == "u-1"
    varying = {"content-length", "x-stainless-retry-count", "x-stainless-read-timeout"}
    same = {k: v for k, v in sdk.headers.items() if k not in varying}
    assert {k: fast.headers.get(k) for k in same} == same  # auth, user agent, SDK headers
    assert fast.headers["authorization"] == f"Bearer {fake_openai.api_key}"


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [
        (400, InvokeBadRequestError, 1),
        (401, InvokeAuthorizationError, 1),
        (429, InvokeRateLimitError, 2),  # retried, as by the SDK (max_retries=1)
        (500, InvokeServerUnavailableError, 2),
    ],
)
def test_fast_stream_path_errors_and_retries_are_the_sdks(
    creds: dict[str, str],
    fake_openai: FakeOpenAIServer,
    status: int,
    error: type[Exception],
    attempts: int,
) -> None:
    messages = [ChatMessage.user("x")]
    fake_openai.fail_next(status, "scripted", times=5)
    with pytest.raises(error, match="scripted"):
        list(OpenAIProvider(lambda: httpx2.Client(), max_retries=1).chat_stream(
            creds, "fake-chat", messages))  # fmt: skip
    assert len(fake_openai.requests_to("/chat/completions")) == attempts
    fake_openai.requests.clear()  # the same through the SDK alone
    with pytest.raises(error, match="scripted"):
        list(OpenAIProvider(max_retries=1).chat_stream(creds, "fake-chat", messages))
    assert len(fake_openai.requests_to("/chat/completions")) == attempts


def test_fast_stream_path_with_no_retries_sends_once(
    pooled_provider: OpenAIProvider, creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail_next(503, "busy")
    with pytest.raises(InvokeServerUnavailableError, match="busy"):
        list(pooled_provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")]))
    assert len(fake_openai.requests_to("/chat/completions")) == 1


def test_fast_stream_path_recovers_when_only_the_first_attempt_fails(
    creds: dict[str, str], fake_openai: FakeOpenAIServer
) -> None:
    provider = OpenAIProvider(lambda: httpx2.Client(), max_retries=1)
    fake_openai.fail_next(503, "busy")
    chunks = list(provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")]))
    assert "".join(c.delta for c in chunks) == "Hello from the fake model."
    assert len(fake_openai.requests_to("/chat/completions")) == 2


def test_fast_stream_path_server_down_is_a_connection_error() -> None:
    provider = OpenAIProvider(lambda: httpx2.Client(), max_retries=0)
    creds = {"openai_api_key": "sk-x", "openai_api_base": f"http://127.0.0.1:{_closed_port()}/v1"}
    with pytest.raises(InvokeConnectionError):
        list(provider.chat_stream(creds, "fake-chat", [ChatMessage.user("x")]))
