"""In-memory fakes of the engine's ports, and a ModelRuntime that talks real HTTP to the
loopback fake OpenAI-compatible server (through the real provider code, no mocks)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.providers.runtime.base import ChatMessage, LLMChunk, LLMResult, ToolSpec
from apps.providers.runtime.openai_compatible import OpenAICompatibleProvider
from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.ports import ToolResult
from tests.fakes.openai_server import FakeOpenAIServer


class ServerModelRuntime:
    """ModelRuntime on the fake server: whatever provider/model the DSL names, the call goes
    to ``model`` on the server (recorded in ``calls`` as the DSL named it)."""

    def __init__(self, server: FakeOpenAIServer, model: str = "fake-chat"):
        self.server = server
        self.model = model
        self.provider = OpenAICompatibleProvider(max_retries=0)
        self.calls: list[dict[str, Any]] = []

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "base_url": self.server.base_url,
            "api_key": self.server.api_key or "",
            "models": self.model,
        }

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
    ) -> LLMResult:
        self.calls.append(
            {
                "provider": provider,
                "model": model,
                "messages": list(messages),
                "tools": list(tools or []),
                "stream": False,
            }
        )
        return self.provider.chat(
            self.credentials,
            self.model,
            messages,
            parameters=parameters,
            tools=tools,
            stop=stop,
            user=user,
        )

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
    ) -> Iterator[LLMChunk]:
        self.calls.append(
            {
                "provider": provider,
                "model": model,
                "messages": list(messages),
                "tools": list(tools or []),
                "stream": True,
            }
        )
        return self.provider.chat_stream(
            self.credentials,
            self.model,
            messages,
            parameters=parameters,
            tools=tools,
            stop=stop,
            user=user,
        )


@dataclass
class FakeRetriever:
    """Returns canned chunks whose content contains a query word (score by overlap)."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)

    def retrieve(
        self, *, query: str, dataset_ids: Sequence[str], config: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        self.queries.append({"query": query, "dataset_ids": list(dataset_ids), "config": config})
        words = set(query.lower().split())
        found = []
        for chunk in self.chunks:
            if chunk["metadata"].get("dataset_id") not in dataset_ids:
                continue
            overlap = len(words & set(chunk["content"].lower().split()))
            if overlap:
                score = overlap / max(len(words), 1)
                found.append({**chunk, "metadata": {**chunk["metadata"], "score": score}})
        found.sort(key=lambda c: -c["metadata"]["score"])
        return found[: int(config.get("top_k") or 4)]


@dataclass
class FakeToolInvoker:
    """Tools as plain functions: ``tools[(provider_id, tool_name)] = fn(**params) -> Any``."""

    tools: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(
        self,
        *,
        provider_type: str,
        provider_id: str,
        tool_name: str,
        parameters: Mapping[str, Any],
        user_id: str | None = None,
    ) -> ToolResult:
        self.calls.append(
            {
                "provider_type": provider_type,
                "provider_id": provider_id,
                "tool_name": tool_name,
                "parameters": dict(parameters),
            }
        )
        fn = self.tools.get((provider_id, tool_name))
        if fn is None:
            raise NodeError(f"tool {provider_id}/{tool_name} not found")
        value = fn(**parameters)
        if isinstance(value, ToolResult):
            return value
        if isinstance(value, dict):
            return ToolResult(text="", json=[value])
        return ToolResult(text=str(value))


@dataclass
class FakeFileReader:
    """Files by ``upload_file_id`` or ``url``."""

    files: dict[str, bytes] = field(default_factory=dict)

    def read(self, file: Mapping[str, Any]) -> bytes:
        key = file.get("upload_file_id") or file.get("related_id") or file.get("url")
        if key not in self.files:
            raise NodeError(f"file {key} not found")
        return self.files[str(key)]
