"""Model runtime: provider interface, registry and built-in providers. Free of Django."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .openai_common import HttpClientFactory


def register_builtin_providers(
    registry: ProviderRegistry | None = None,
    *,
    timeout: float | None = None,
    max_retries: int | None = None,
    http_client_factory: HttpClientFactory | None = None,
) -> None:
    """Register OpenAI, OpenAI-API-compatible and MiniLM; already registered names are kept.

    ``timeout`` (seconds), ``max_retries`` and ``http_client_factory`` (a new httpx2 client
    per SDK client, e.g. one behind the SSRF guard) apply to the HTTP-based providers.
    """
    from .minilm import MiniLMProvider
    from .openai_compatible import OpenAICompatibleProvider
    from .openai_provider import OpenAIProvider

    http_options: dict[str, Any] = {}
    if timeout is not None:
        http_options["timeout"] = timeout
    if max_retries is not None:
        http_options["max_retries"] = max_retries
    if http_client_factory is not None:
        http_options["http_client_factory"] = http_client_factory
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
