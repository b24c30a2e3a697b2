"""ModelRuntime port over the workspace's configured providers and default models."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from apps.core.errors import AppError
from apps.providers.runtime.base import ChatMessage, LLMChunk, LLMResult, ToolSpec
from apps.providers.services import WorkspaceModelRuntime
from apps.tenants.models import Workspace
from apps.workflows.engine.errors import NodeError


def provider_name(dsl_provider: str | None) -> str | None:
    """Dify's plugin-era names (``langgenius/openai/openai``) end with the provider name."""
    if not dsl_provider:
        return None
    return dsl_provider.rstrip("/").rsplit("/", 1)[-1]


class WorkspaceModelPort:
    def __init__(self, workspace: Workspace):
        self.runtime = WorkspaceModelRuntime(workspace)

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
        try:
            return self.runtime.chat(
                messages, provider=provider_name(provider), model=model,
                parameters=parameters, tools=tools, stop=stop, user=user,
            )  # fmt: skip
        except AppError as exc:
            raise NodeError(exc.message) from exc

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
        try:
            yield from self.runtime.chat_stream(
                messages, provider=provider_name(provider), model=model,
                parameters=parameters, tools=tools, stop=stop, user=user,
            )  # fmt: skip
        except AppError as exc:
            raise NodeError(exc.message) from exc
