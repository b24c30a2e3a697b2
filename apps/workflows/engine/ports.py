"""What the engine needs from its host, as small protocols (plus the data they exchange).

The Django adapters live in ``apps/workflows/adapters/``; in-memory fakes for tests in
``tests/workflows/fakes.py``. A port left as ``None`` makes the nodes that need it fail
with a clear error instead of crashing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.providers.runtime.base import ChatMessage, LLMChunk, LLMResult, ToolSpec


class ModelRuntime(Protocol):
    """Chat models of the running workspace (provider + model name as in the DSL)."""

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        provider: str | None = None,
        model: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> LLMResult: ...

    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        provider: str | None = None,
        model: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> Iterator[LLMChunk]: ...


class Retriever(Protocol):
    """Knowledge retrieval over the workspace's datasets."""

    def retrieve(
        self, *, query: str, dataset_ids: Sequence[str], config: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Return Dify's knowledge-retrieval ``result`` items:
        ``{content, title, metadata: {score, dataset_id, document_id, segment_id, ...}}``."""
        ...


@dataclass
class ToolResult:
    text: str = ""
    json: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


class ToolInvoker(Protocol):
    def invoke(
        self,
        *,
        provider_type: str,
        provider_id: str,
        tool_name: str,
        parameters: Mapping[str, Any],
        user_id: str | None = None,
    ) -> ToolResult: ...


class CodeRunner(Protocol):
    def run(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``main(**inputs)`` of ``code`` and return its dict; raise NodeError on failure."""
        ...


@dataclass
class HttpResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes
    content_type: str = ""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class HttpClient(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
        timeout: float | None = None,
        verify: bool = True,
    ) -> HttpResponse: ...


class FileReader(Protocol):
    """Reads the bytes of a Dify file object (``{transfer_method, upload_file_id|url, ...}``)."""

    def read(self, file: Mapping[str, Any]) -> bytes: ...


@dataclass
class Ports:
    model_runtime: ModelRuntime | None = None
    retriever: Retriever | None = None
    tool_invoker: ToolInvoker | None = None
    code_runner: CodeRunner | None = None
    http_client: HttpClient | None = None
    file_reader: FileReader | None = None
