"""Model runtime: provider interface, registry and built-in providers. Free of Django."""

from __future__ import annotations

from typing import Any

from .base import (
    ChatMessage,
    CredentialField,
    EmbeddingResult,
    LLMChunk,
    LLMResult,
    ModelInfo,
    ModelProvider,
    ModelType,
    ToolCall,
    ToolSpec,
    Usage,
)
from .errors import (
    CredentialsValidateFailedError,
    InvokeAuthorizationError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
    ModelNotSupportedError,
    ProviderError,
    ProviderNotFoundError,
)
from .registry import ProviderRegistry, providers


def register_builtin_providers(
    registry: ProviderRegistry | None = None,
    *,
    timeout: float | None = None,
    max_retries: int | None = None,
) -> None:
    """Register OpenAI, OpenAI-API-compatible and MiniLM; already registered names are kept.

    ``timeout`` (seconds) and ``max_retries`` apply to the HTTP-based providers.
    """
    from .minilm import MiniLMProvider
    from .openai_compatible import OpenAICompatibleProvider
    from .openai_provider import OpenAIProvider

    http_options: dict[str, Any] = {}
    if timeout is not None:
        http_options["timeout"] = timeout
    if max_retries is not None:
        http_options["max_retries"] = max_retries
    target = providers if registry is None else registry
    built: list[ModelProvider] = [
        OpenAIProvider(**http_options),
        OpenAICompatibleProvider(**http_options),
        MiniLMProvider(),
    ]
    for provider in built:
        if provider.name not in target:
            target.register(provider)


__all__ = [
    "ChatMessage",
    "CredentialField",
    "CredentialsValidateFailedError",
    "EmbeddingResult",
    "InvokeAuthorizationError",
    "InvokeBadRequestError",
    "InvokeConnectionError",
    "InvokeRateLimitError",
    "InvokeServerUnavailableError",
    "LLMChunk",
    "LLMResult",
    "ModelInfo",
    "ModelNotSupportedError",
    "ModelProvider",
    "ModelType",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderRegistry",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "providers",
    "register_builtin_providers",
]
