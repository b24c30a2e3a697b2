"""Shared code of the providers that speak the OpenAI HTTP API.

SDK clients are kept per credential set (``OpenAIAPIProvider.session``).
``http_client_factory`` (if given) must return a *new* ``httpx2.Client`` on every call: each
SDK client gets its own, and closes it with itself.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from typing import Any, cast

import httpx2
import openai

from . import openai_audio
from .base import (
    ChatMessage,
    EmbeddingResult,
    LLMChunk,
    LLMResult,
    ModelProvider,
    ModerationResult,
    ToolCall,
    ToolCallAssembler,
    ToolSpec,
    Usage,
    estimate_tokens,
)
from .errors import (
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
    ProviderError,
    redact,
)

HttpClientFactory = Callable[[], httpx2.Client]

DEFAULT_TIMEOUT = 300.0  # seconds; the read timeout applies between received bytes
CONNECT_TIMEOUT = 10.0
EMBED_BATCH_SIZE = 256
MAX_CACHED_CLIENTS = 64
# Dify model parameters passed through to the API; every other key is dropped.
_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "seed")
CHAT_PARAMETERS = frozenset((*_SAMPLING, "max_tokens", "max_completion_tokens", "reasoning_effort"))


def build_client(
    *,
    api_key: str,
    base_url: str,
    organization: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = 1,
    http_client_factory: HttpClientFactory | None = None,
) -> openai.OpenAI:
    http_client = http_client_factory() if http_client_factory else None
    client = openai.OpenAI(
        api_key=api_key,
        base_url=base_url.rstrip("/"),
        timeout=httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        max_retries=max_retries,
        http_client=http_client,
    )
    # The SDK falls back to OPENAI_ORG_ID / OPENAI_PROJECT_ID: never send the host's to a tenant's.
    client.organization, client.project = organization or None, None
    setattr(client, _HTTP_CLIENT_ATTR, http_client)  # for the streamed fast path
    return client


_HTTP_CLIENT_ATTR = "_dify_http_client"


def _open_stream(client: openai.OpenAI, body: dict[str, Any]) -> httpx2.Response:
    """POST a streamed chat request and return the raw streaming response.

    It goes out on the SDK client's own HTTP client (the same headers, timeout and SSRF
    guard) without the SDK's request machinery (~1 ms of CPU before a first token on two
    busy cores). A failure is the SDK's: the status error it would raise (the SDK's own
    ``_make_status_error_from_response``), and where the SDK would retry (a connection
    error, 408/409/429/5xx, ``x-should-retry``), the SDK sends it again with the retries
    left, so the attempts add up to the client's ``max_retries`` + 1 as before. A timeout is
    not retried here (it would double the wait)."""
    http = getattr(client, _HTTP_CLIENT_ATTR, None)
    if not isinstance(http, httpx2.Client):  # no client of ours: all through the SDK
        return client.post("/chat/completions", body=body, cast_to=httpx2.Response, stream=True)
    sdk_headers = {**client.default_headers, **client.auth_headers}
    headers = {k: v for k, v in sdk_headers.items() if isinstance(v, str)}  # not the Omit ones
    headers["Content-Type"] = "application/json"
    url = f"{str(client.base_url).rstrip('/')}/chat/completions"
    request = http.build_request(
        "POST", url, content=json.dumps(body).encode(), headers=headers,
        params=cast(Any, client.default_query) or None, timeout=client.timeout,
    )  # fmt: skip
    try:
        response = http.send(request, stream=True)
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=request) from exc
    except httpx2.HTTPError as exc:
        if client.max_retries < 1:
            raise openai.APIConnectionError(request=request) from exc
    else:
        if response.is_success:
            return response
        if client.max_retries < 1 or not client._should_retry(response):
            response.read()
            response.close()
            raise client._make_status_error_from_response(response)
        response.close()
    retry = client.with_options(max_retries=client.max_retries - 1)
    return retry.post("/chat/completions", body=body, cast_to=httpx2.Response, stream=True)


def _sdk_message(exc: openai.OpenAIError) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
    if isinstance(exc, openai.APIConnectionError) and exc.__cause__ is not None:
        return f"{exc.message} {exc.__cause__}"
    return str(getattr(exc, "message", "") or exc)


def translate_openai_error(exc: openai.OpenAIError, secrets: Iterable[str] = ()) -> ProviderError:
    """Map an OpenAI SDK exception to the provider error family (the one place that does)."""
    message = redact(_sdk_message(exc), secrets)
    if isinstance(exc, openai.APITimeoutError):
        return InvokeConnectionError(f"Request to the model provider timed out: {message}")
    if isinstance(exc, openai.APIConnectionError):
        return InvokeConnectionError(f"Cannot connect to the model provider: {message}")
    if not isinstance(exc, openai.APIStatusError):
        return InvokeBadRequestError(message)
    status, text = exc.status_code, f"{message} (HTTP {exc.status_code})"
    denied = isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError)
    if denied or status in (401, 403):
        return InvokeAuthorizationError(text)
    if isinstance(exc, openai.RateLimitError) or status == 429:
        return InvokeRateLimitError(text)
    if isinstance(exc, openai.InternalServerError) or status >= 500:
        return InvokeServerUnavailableError(text)
    return InvokeBadRequestError(text)  # BadRequestError, NotFoundError and other 4xx


@contextmanager
def openai_errors(secrets: Iterable[str] = ()) -> Iterator[None]:
    """Re-raise OpenAI SDK exceptions as ProviderError subclasses."""
    try:
        yield
    except openai.OpenAIError as exc:
        raise translate_openai_error(exc, secrets) from exc


def _response_format(value: Any, json_schema: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping):
        return dict(value)
    if value in (None, "", "text"):
        return None if value in (None, "") else {"type": "text"}
    if value == "json_schema":
        try:
            schema = json.loads(json_schema) if isinstance(json_schema, str) else json_schema
        except ValueError:
            schema = None
        if not isinstance(schema, Mapping):
            raise InvokeBadRequestError("response_format json_schema needs a JSON schema.")
        if "schema" not in schema:
            schema = {"name": "response", "schema": dict(schema)}
        return {"type": "json_schema", "json_schema": dict(schema)}
    return {"type": str(value)}


def chat_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep the known OpenAI parameters (dropping None values) and shape response_format."""
    params = dict(parameters or {})
    out = {k: v for k, v in params.items() if k in CHAT_PARAMETERS and v is not None}
    response_format = _response_format(params.get("response_format"), params.get("json_schema"))
    if response_format is not None:
        out["response_format"] = response_format
    return out


def message_to_openai(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        data["name"] = message.name
    if message.role == "assistant" and message.tool_calls:
        data["tool_calls"] = [_tool_call_to_openai(c) for c in message.tool_calls]
        data["content"] = message.content or None
    if message.role == "tool":
        data["tool_call_id"] = message.tool_call_id or ""
    return data


def _tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    function = {"name": call.name, "arguments": call.arguments}
    return {"id": call.id, "type": "function", "function": function}


def tool_to_openai(tool: ToolSpec) -> dict[str, Any]:
    function = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    return {"type": "function", "function": function}


def _usage(sdk_usage: Any, messages: Sequence[ChatMessage], output: str, started: float) -> Usage:
    """The server's usage (an SDK object or a streamed chunk's JSON), or an estimate (see
    ``estimate_tokens``) when it sent none."""
    latency = time.perf_counter() - started
    if sdk_usage is None:
        prompt = sum(estimate_tokens(m.text()) for m in messages)
        completion = estimate_tokens(output)
        return Usage(prompt, completion, prompt + completion, latency)

    def field(name: str) -> int:
        if isinstance(sdk_usage, Mapping):
            return int(sdk_usage.get(name) or 0)
        return int(getattr(sdk_usage, name, None) or 0)

    prompt, completion = field("prompt_tokens"), field("completion_tokens")
    return Usage(prompt, completion, field("total_tokens") or prompt + completion, latency)


def _sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined, comments skipped)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _stream_chunks(response: httpx2.Response) -> Iterator[dict[str, Any]]:
    """The JSON chunks of a streamed chat completion, read to the end of the body (so the
    connection goes back to the pool); transport and in-stream errors raised as the SDK's
    ``Stream`` raises them."""
    done = False
    try:
        for data in _sse_data(response.iter_lines()):
            if done:
                continue  # after [DONE]: drain only
            if data.startswith("[DONE]"):
                done = True
                continue
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise openai.APIError(
                    f"invalid JSON in the stream: {data[:200]}", response.request, body=None
                ) from exc
            if not isinstance(chunk, dict):
                continue
            if chunk.get("error"):
                error = chunk["error"]
                message = error.get("message") if isinstance(error, Mapping) else None
                raise openai.APIError(
                    str(message or "An error occurred during streaming"),
                    response.request,
                    body=error,
                )
            yield chunk
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.RequestError as exc:
        raise openai.APIConnectionError(request=response.request) from exc


class OpenAIAPIProvider(ModelProvider):
    """Chat, streaming and embeddings over the OpenAI HTTP API; subclasses supply the client."""

    def __init__(
        self,
        http_client_factory: HttpClientFactory | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 1,
    ) -> None:
        self.http_client_factory = http_client_factory
        self.timeout = timeout
        self.max_retries = max_retries
        self._clients: OrderedDict[str, openai.OpenAI] = OrderedDict()
        self._clients_lock = threading.Lock()

    def client(self, credentials: Mapping[str, str]) -> openai.OpenAI:
        raise NotImplementedError

    @contextmanager
    def session(self, credentials: Mapping[str, str]) -> Iterator[openai.OpenAI]:
        """A client for these credentials; SDK errors re-raised as provider errors (redacted).

        Clients (and their connection pools and TLS contexts, ~40 ms to build) are kept per
        credential set and shared by threads, the least recently used closed past a bound."""
        with openai_errors(self.secrets(credentials)):
            yield self._shared_client(credentials)

    def _shared_client(self, credentials: Mapping[str, str]) -> openai.OpenAI:
        key = hashlib.sha256(
            json.dumps(sorted((str(k), str(v)) for k, v in credentials.items())).encode()
        ).hexdigest()
        with self._clients_lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = self.client(credentials)
        with self._clients_lock:
            self._clients[key] = client
            while len(self._clients) > MAX_CACHED_CLIENTS:
                self._clients.popitem(last=False)[1].close()
        return client

    def close_clients(self) -> None:
        with self._clients_lock:
            while self._clients:
                self._clients.popitem()[1].close()

    def secrets(self, credentials: Mapping[str, str]) -> list[str]:
        return [str(credentials.get(f.name) or "") for f in self.credential_schema if f.is_secret]

    def adapt_parameters(self, model: str, params: dict[str, Any]) -> dict[str, Any]:
        """Hook for model-specific parameter rules."""
        return params

    def _request(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        parameters: Mapping[str, Any] | None,
        tools: Sequence[ToolSpec] | None,
        stop: Sequence[str] | None,
        user: str | None,
    ) -> dict[str, Any]:
        request = self.adapt_parameters(model, chat_parameters(parameters))
        request.update(model=model, messages=[message_to_openai(m) for m in messages])
        extra = {"tools": [tool_to_openai(t) for t in tools or ()], "stop": list(stop or ())}
        request.update({k: v for k, v in {**extra, "user": user}.items() if v})
        return request

    def chat(
        self,
        credentials: Mapping[str, str],
        model: str,
        messages: Sequence[ChatMessage],
        *,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> LLMResult:
        request = self._request(model, messages, parameters, tools, stop, user)
        started = time.perf_counter()
        with self.session(credentials) as client:
            response = client.chat.completions.create(**request)
        if not response.choices:
            raise InvokeBadRequestError("The model returned no choices.")
        choice = response.choices[0]
        message = choice.message
        text = message.content or ""
        assembler = ToolCallAssembler()
        for c in message.tool_calls or []:
            if (fn := getattr(c, "function", None)) is not None:
                assembler.add(None, c.id, fn.name, fn.arguments)
        calls = assembler.calls()
        output = text + "".join(c.arguments for c in calls)
        return LLMResult(
            model=response.model or model,
            text=text,
            tool_calls=calls,
            usage=_usage(response.usage, messages, output, started),
            finish_reason=choice.finish_reason,
            reasoning_content=str(getattr(message, "reasoning_content", None) or ""),
        )

    def chat_stream(
        self,
        credentials: Mapping[str, str],
        model: str,
        messages: Sequence[ChatMessage],
        *,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> Iterator[LLMChunk]:
        """Yield deltas as they arrive; errors surface on the first ``next()``.

        The request goes out on the SDK client's HTTP client (``_open_stream``: auth,
        retries and HTTP errors as with ``chat.completions.create``); the events of the raw
        response are read here as plain JSON. The SDK's typed chunks and request transform
        cost ~2 ms of CPU before a first token on two busy cores, and its ``Stream`` closes
        the response at ``[DONE]`` before the end of the body, so each message paid a new
        connection (a new TLS handshake with a remote provider): reading to the end keeps
        it alive."""
        request = self._request(model, messages, parameters, tools, stop, user)
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        calls = ToolCallAssembler()
        output: list[str] = []
        usage: Any = None
        finish_reason: str | None = None
        with self.session(credentials) as client:
            response = _open_stream(client, request)
            with closing(response):
                for chunk in _stream_chunks(response):
                    usage = chunk.get("usage") or usage
                    for choice in (chunk.get("choices") or [])[:1]:
                        finish_reason = choice.get("finish_reason") or finish_reason
                        delta = choice.get("delta")
                        if not isinstance(delta, dict):  # some servers omit it on the last chunk
                            continue
                        for tc in delta.get("tool_calls") or []:
                            fn = tc.get("function") or {}
                            index, call_id = tc.get("index"), tc.get("id")
                            calls.add(index, call_id, fn.get("name"), fn.get("arguments"))
                        content = str(delta.get("content") or "")
                        reasoning = str(delta.get("reasoning_content") or "")
                        if content or reasoning:
                            output.append(content)
                            yield LLMChunk(delta=content, reasoning_delta=reasoning)
        tool_calls = calls.calls()
        text = "".join(output) + "".join(c.arguments for c in tool_calls)
        final_usage = _usage(usage, messages, text, started)
        yield LLMChunk(tool_calls=tool_calls, finish_reason=finish_reason, usage=final_usage)

    def embed(
        self, credentials: Mapping[str, str], model: str, texts: Sequence[str]
    ) -> EmbeddingResult:
        started = time.perf_counter()
        vectors: list[list[float]] = []
        prompt_tokens = 0
        with self.session(credentials) as client:
            for start in range(0, len(texts), EMBED_BATCH_SIZE):
                batch = [t if t else " " for t in texts[start : start + EMBED_BATCH_SIZE]]
                response = client.embeddings.create(
                    model=model, input=batch, encoding_format="float"
                )
                data = sorted(response.data, key=lambda d: d.index)
                vectors.extend([float(x) for x in d.embedding] for d in data)
                used = response.usage.prompt_tokens if response.usage else None
                prompt_tokens += used if used else sum(estimate_tokens(t) for t in batch)
        usage = Usage(prompt_tokens, 0, prompt_tokens, time.perf_counter() - started)
        return EmbeddingResult(model, vectors, usage)

    def moderate(self, credentials: Mapping[str, str], model: str, text: str) -> ModerationResult:
        """``POST {base_url}/moderations``: flagged when any result is."""
        with self.session(credentials) as client:
            response = client.moderations.create(model=model, input=text)
        flagged, categories = False, list[str]()
        for result in response.results:
            flagged = flagged or bool(result.flagged)
            found = result.categories.model_dump(by_alias=True) if result.categories else {}
            categories.extend(name for name, hit in found.items() if hit)
        return ModerationResult(response.model or model, flagged, tuple(dict.fromkeys(categories)))

    def speech_to_text(
        self,
        credentials: Mapping[str, str],
        model: str,
        audio: bytes,
        filename: str,
        mime_type: str,
    ) -> str:
        """``POST {base_url}/audio/transcriptions`` (Whisper-style, multipart)."""
        with self.session(credentials) as client:
            return openai_audio.transcribe(client, model, audio, filename, mime_type)

    def text_to_speech(
        self,
        credentials: Mapping[str, str],
        model: str,
        text: str,
        voice: str,
        *,
        audio_format: str = "mp3",
    ) -> Iterator[bytes]:
        """``POST {base_url}/audio/speech``, streamed; errors surface on the first ``next()``."""
        with self.session(credentials) as client:
            yield from openai_audio.speak(client, model, text, voice, audio_format)

    def remote_model_ids(self, credentials: Mapping[str, str]) -> list[str]:
        """``GET {base_url}/models``."""
        with self.session(credentials) as client:
            return [m.id for m in client.models.list()]
