"""Model runtime: provider interface, registry and built-in providers. Free of Django."""

from __future__ import annotations

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


def register_builtin_providers(registry: ProviderRegistry | None = None) -> None:
    """Register OpenAI, OpenAI-API-compatible and MiniLM; already registered names are kept."""
    from .minilm import MiniLMProvider
    from .openai_compatible import OpenAICompatibleProvider
    from .openai_provider import OpenAIProvider

    target = providers if registry is None else registry
    for cls in (OpenAIProvider, OpenAICompatibleProvider, MiniLMProvider):
        if cls.name not in target:
            target.register(cls())


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
