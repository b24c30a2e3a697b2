"""Errors raised by model providers.

The codes mirror Dify's ``InvokeError`` family so that the API layer can turn them into
Dify-shaped ``{"code", "message", "status"}`` bodies without knowing about providers.
Messages are one line and never contain credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class ProviderError(Exception):
    """Base class of every error a provider raises."""

    code: str = "provider_error"

    def __init__(self, message: str = "") -> None:
        self.message = message or self.__class__.__name__
        super().__init__(self.message)


class CredentialsValidateFailedError(ProviderError):
    code = "provider_credentials_invalid"


class InvokeAuthorizationError(ProviderError):
    code = "invoke_authorization_error"


class InvokeRateLimitError(ProviderError):
    code = "rate_limit_error"


class InvokeConnectionError(ProviderError):
    code = "invoke_connection_error"


class InvokeServerUnavailableError(ProviderError):
    code = "invoke_server_unavailable"


class InvokeBadRequestError(ProviderError):
    code = "completion_request_error"


class ModelNotSupportedError(ProviderError):
    code = "model_currently_not_support"


class ProviderNotFoundError(ProviderError):
    code = "provider_not_found"


_KEY_PATTERNS = (
    re.compile(r"\b((?:sk|rk|pk)-)[\w\-*.]{4,}"),
    re.compile(r"(api key provided:\s*)\S+", re.IGNORECASE),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets (and anything that looks like an API key) from ``text``; one line."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(r"\1***", text)
    text = " ".join(text.split())
    return text[:500]


@contextmanager
def as_validation_error() -> Iterator[None]:
    """Turn any provider error raised while validating into CredentialsValidateFailedError."""
    try:
        yield
    except CredentialsValidateFailedError:
        raise
    except ProviderError as exc:
        raise CredentialsValidateFailedError(exc.message) from exc


__all__ = [
    "CredentialsValidateFailedError",
    "InvokeAuthorizationError",
    "InvokeBadRequestError",
    "InvokeConnectionError",
    "InvokeRateLimitError",
    "InvokeServerUnavailableError",
    "ModelNotSupportedError",
    "ProviderError",
    "ProviderNotFoundError",
    "as_validation_error",
    "redact",
]
