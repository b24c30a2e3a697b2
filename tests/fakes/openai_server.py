"""A fake OpenAI-compatible HTTP server on 127.0.0.1 for tests (real HTTP/1.1, real SSE).

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(api_key=server.api_key, base_url=server.base_url)

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (JSON or SSE with
``stream: true``), ``POST /v1/embeddings`` (float or base64), ``POST /v1/rerank`` (the
Jina/Cohere-style rerank API of vLLM, Xinference and gateways; score = the share of the
query's words found in the document), ``POST /v1/moderations`` (flagged, category
``violence``, when an input holds one of ``moderated_words``, case-insensitively), ``POST
/v1/audio/transcriptions`` (a real multipart body; the transcript is
``fake_transcript(filename, bytes)``) and ``POST /v1/audio/speech`` (``fake_speech(input,
voice)`` as ``audio/mpeg``, one HTTP chunk per word; OpenAI's limit of 4096 input
characters is enforced).
Token usage is counted as whitespace-separated words (text parts of messages for the
prompt, the reply and tool-call arguments for the completion). ``max_tokens`` cuts the
reply to that many words with ``finish_reason: "length"``. Streams are sent with chunked
transfer encoding, one SSE frame per HTTP chunk, text split by words.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

DEFAULT_MODELS = (
    "fake-chat", "fake-chat-large", "fake-embed", "fake-rerank", "fake-moderation",
    "omni-moderation-latest",
)  # fmt: skip
AUDIO_MODELS = ("fake-whisper", "fake-tts")  # add to ``models`` for the audio endpoints
SPEECH_INPUT_LIMIT = 4096
_INVALID = "invalid_request_error"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any  # a multipart body: its text fields
    client_port: int = 0  # the same port on two requests: the connection was kept alive
    files: dict[str, UploadedPart] = field(default_factory=dict)  # multipart file parts


@dataclass(frozen=True)
class UploadedPart:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Failure:
    status: int
    message: str
    type: str
    code: str | None


def fake_embedding(text: str, dimensions: int = 8) -> list[float]:
    """The deterministic unit vector the server returns for ``text``."""
    values: list[float] = []
    for counter in itertools.count():
        if len(values) >= dimensions:
            break
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
    norm = math.sqrt(sum(v * v for v in values[:dimensions])) or 1.0
    return [v / norm for v in values[:dimensions]]


def fake_transcript(filename: str, data: bytes) -> str:
    """The text the server "hears" in an uploaded audio file."""
    return f"{filename}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}"


def fake_speech_frames(text: str, voice: str) -> list[bytes]:
    """The audio the server "speaks": one 34-byte MPEG-looking frame per word."""
    return [
        b"\xff\xf3" + hashlib.sha256(f"{voice}:{index}:{word}".encode()).digest()
        for index, word in enumerate(text.split())
    ]


def fake_speech(text: str, voice: str) -> bytes:
    return b"".join(fake_speech_frames(text, voice))


def count_words(content: Any) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(count_words(p.get("text")) for p in content if isinstance(p, dict))
    return 0


_POST_PATHS = (
    "/v1/chat/completions", "/v1/embeddings", "/v1/rerank", "/v1/moderations",
    "/v1/audio/transcriptions", "/v1/audio/speech",
)  # fmt: skip


class FakeOpenAIServer:
    def __init__(
        self,
        *,
        api_key: str | None = "sk-test-key",
        models: tuple[str, ...] = DEFAULT_MODELS,
        reply_text: str = "Hello from the fake model.",
        embedding_dim: int = 8,
        chunk_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key  # None: accept any (or no) Authorization header
        self.models = list(models)
        self.reply_text = reply_text
        self.reasoning_text: str | None = None  # sent as reasoning_content when set
        self.send_usage = True  # False: no "usage" anywhere (like some compatible servers)
        self.embedding_dim = embedding_dim
        self.moderated_words: list[str] = ["kill"]
        self.chunk_delay = chunk_delay
        self.tool_calls: list[list[dict[str, Any]]] = []  # queue; one entry per chat reply
        self.requests: list[RecordedRequest] = []
        self.aborted_speech = 0  # speech answers whose client hung up before the end
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ---------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        message: str = "Scripted failure.",
        *,
        code: str | None = None,
        error_type: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests (any endpoint) with an OpenAI-shaped error."""
        default_type = (
            "requests" if status == 429 else "server_error" if status >= 500 else _INVALID
        )
        failure = _Failure(status, message, error_type or default_type, code)
        with self._lock:
            self._failures.extend([failure] * times)

    def queue_tool_calls(self, *calls: dict[str, Any]) -> None:
        """Queue one reply made of tool calls: ``{"name": ..., "arguments": dict|str}``."""
        self.tool_calls.append(list(calls))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(path)]

    # -- internals used by the handler -------------------------------------------------------
    def _record(self, request: RecordedRequest) -> _Failure | None:
        with self._lock:
            self.requests.append(request)
            return self._failures.pop(0) if self._failures else None

    def _next_tool_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            raw = self.tool_calls.pop(0) if self.tool_calls else []
        return [self._normalize_call(call) for call in raw]

    def _normalize_call(self, call: dict[str, Any]) -> dict[str, Any]:
        args = call.get("arguments", {})
        arguments = args if isinstance(args, str) else json.dumps(args)
        return {
            "id": call.get("id") or f"call_{next(self._ids)}",
            "name": call["name"],
            "arguments": arguments,
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client closing an idle keep-alive connection is normal: stay quiet."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Send each SSE chunk at once, as real model servers do (no Nagle delay that would
        # add ~40 ms of delayed-ACK wait to the first token).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        files: dict[str, UploadedPart] = {}
        body: Any
        content_type = self.headers.get("Content-Type") or ""
        if content_type.startswith("multipart/form-data"):
            body, files = _multipart(content_type, raw)
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        path = urlsplit(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        port = int(self.client_address[1])
        recorded = RecordedRequest(self.command, path, headers, body, port, files)
        failure = fake._record(recorded)
        if failure is not None:
            return self._error(failure.status, failure.message, failure.code, failure.type)
        if fake.api_key is not None and headers.get("authorization") != f"Bearer {fake.api_key}":
            message = "Incorrect API key provided. You can find your API key in your dashboard."
            return self._error(401, message, "invalid_api_key")
        if (self.command, path) == ("GET", "/v1/models"):
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
            return self._json(200, {"object": "list", "data": data})
        if self.command != "POST" or path not in _POST_PATHS:
            return self._error(404, f"Unknown path {path}.")
        if not isinstance(body, dict):
            return self._error(400, "Body must be a JSON object.")
        if body.get("model") not in fake.models:
            message = f"The model `{body.get('model')}` does not exist or you have no access to it."
            return self._error(404, message, "model_not_found")
        if path == "/v1/audio/transcriptions":
            return self._transcription(files)
        if path == "/v1/audio/speech":
            return self._speech(body)
        if path == "/v1/rerank":
            return self._rerank(body)
        if path == "/v1/moderations":
            return self._moderations(body)
        return self._embeddings(body) if path == "/v1/embeddings" else self._chat(body)

    def _transcription(self, files: dict[str, UploadedPart]) -> None:
        part = files.get("file")
        if part is None or not part.data:
            return self._error(400, "file must be a non-empty file part.")
        self._json(200, {"text": fake_transcript(part.filename, part.data)})

    def _speech(self, body: dict[str, Any]) -> None:
        text, voice = body.get("input"), body.get("voice")
        if not isinstance(text, str) or not text.strip() or not isinstance(voice, str) or not voice:
            return self._error(400, "input and voice must be non-empty strings.")
        if len(text) > SPEECH_INPUT_LIMIT:
            return self._error(400, f"input is longer than {SPEECH_INPUT_LIMIT} characters.")
        if body.get("response_format", "mp3") != "mp3":
            return self._error(400, "this fake speaks mp3 only.")
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for index, frame in enumerate(fake_speech_frames(text, voice)):
                if index and self.server.fake.chunk_delay:
                    time.sleep(self.server.fake.chunk_delay)
                self._write_chunk(frame)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            with self.server.fake._lock:
                self.server.fake.aborted_speech += 1

    def _rerank(self, body: dict[str, Any]) -> None:
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not isinstance(documents, list):
            return self._error(400, "query must be a string and documents a list.")
        words = {w.lower().strip(".,?!") for w in query.split()}
        results = []
        for index, document in enumerate(documents):
            text = document.get("text", "") if isinstance(document, dict) else str(document)
            found = {w.lower().strip(".,?!") for w in text.split()} & words
            results.append({"index": index, "relevance_score": len(found) / max(len(words), 1)})
        results.sort(key=lambda r: -r["relevance_score"])
        top_n = body.get("top_n")
        if isinstance(top_n, int):
            results = results[:top_n]
        self._json(200, {"model": body["model"], "results": results})

    def _moderations(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self._error(400, "input must be a string or a list of strings.")
        words = [w.lower() for w in self.server.fake.moderated_words]
        results = []
        for text in texts:
            flagged = any(w in text.lower() for w in words)
            results.append({
                "flagged": flagged,
                "categories": {"violence": flagged, "hate": False},
                "category_scores": {"violence": 0.99 if flagged else 0.01, "hate": 0.0},
            })  # fmt: skip
        self._json(200, {"id": f"modr-{next(self.server.fake._ids)}", "model": body["model"],
                         "results": results})  # fmt: skip

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.server.fake
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._error(400, "messages must be a non-empty list.")
        prompt_tokens = sum(count_words(m.get("content")) for m in body["messages"])
        calls = fake._next_tool_calls()
        text, finish = ("", "tool_calls") if calls else (fake.reply_text, "stop")
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(limit, int) and len(text.split()) > limit:
            text, finish = " ".join(text.split()[:limit]), "length"
        completion = count_words(text) + sum(count_words(c["arguments"]) for c in calls)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion}
        usage["total_tokens"] = prompt_tokens + completion
        head = {"id": f"chatcmpl-{next(fake._ids)}", "created": int(time.time())}
        head["model"] = body["model"]
        if body.get("stream"):
            with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            with_usage = with_usage and fake.send_usage
            usage_frame = usage if with_usage else None
            frames = _frames(head, text, fake.reasoning_text, calls, finish, usage_frame)
            return self._stream(frames, fake.chunk_delay)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if fake.reasoning_text:
            message["reasoning_content"] = fake.reasoning_text
        if calls:
            message["tool_calls"] = [_tool_call(c) for c in calls]
        choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
        reply = {**head, "object": "chat.completion", "choices": [choice]}
        self._json(200, {**reply, "usage": usage} if fake.send_usage else reply)

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._error(400, "input must be a string or a list of strings.")
        dim = int(body.get("dimensions") or self.server.fake.embedding_dim)
        data = []
        for index, text in enumerate(texts):
            vector: Any = fake_embedding(text, dim)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(count_words(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._json(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    # -- HTTP plumbing -----------------------------------------------------------------------
    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{next(self.server.fake._ids)}")
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, message: str, code: str | None = None, kind: str = _INVALID
    ) -> None:
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._json(status, {"error": error})

    def _stream(self, frames: Iterator[dict[str, Any]], delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for index, frame in enumerate(frames):
                if index and delay:
                    time.sleep(delay)
                self._write_chunk(f"data: {json.dumps(frame)}\n\n".encode())
            self._write_chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, UploadedPart]]:
    """The text fields and the file parts of a ``multipart/form-data`` body."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    files: dict[str, UploadedPart] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        if filename is None:
            fields[name] = data.decode()
        else:
            files[name] = UploadedPart(filename, part.get_content_type(), data)
    return fields, files


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = {"name": call["name"], "arguments": call["arguments"]}
    return {"id": call["id"], "type": "function", "function": function}


def _pieces(text: str, parts: int) -> list[str]:
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _frames(
    head: dict[str, Any],
    text: str,
    reasoning: str | None,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int] | None,
) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed reply: role, reasoning, words, tool-call pieces, finish, usage."""
    extra = {"usage": None} if usage is not None else {}

    def frame(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

    yield frame({"role": "assistant", "content": ""})
    for word in (reasoning or "").split():
        yield frame({"reasoning_content": word + " "})
    words = text.split(" ")
    for i, word in enumerate(words):
        if word or i:
            yield frame({"content": word if i == len(words) - 1 else word + " "})
    for index, call in enumerate(calls):
        start = {**_tool_call({**call, "arguments": ""}), "index": index}
        yield frame({"tool_calls": [start]})
        for piece in _pieces(call["arguments"], 3):
            yield frame({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield frame({}, finish)
    if usage is not None:
        yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}
