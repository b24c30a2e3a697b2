"""The provider registry: providers register under Dify's provider name."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .base import ModelProvider
from .errors import ProviderNotFoundError


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, ModelProvider] = {}
        self._lock = threading.Lock()

    def register(self, provider: ModelProvider) -> ModelProvider:
        """Register ``provider`` under ``provider.name``; a duplicate name raises ValueError."""
        name = getattr(provider, "name", "")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{type(provider).__name__} has no provider name.")
        with self._lock:
            if name in self._providers:
                raise ValueError(f"A provider named {name!r} is already registered.")
            self._providers[name] = provider
        return provider

    def unregister(self, name: str) -> None:
        with self._lock:
            self._providers.pop(name, None)

    def get(self, name: str) -> ModelProvider:
        try:
            return self._providers[name]
        except KeyError:
            raise ProviderNotFoundError(f"Provider {name!r} does not exist.") from None

    def all(self) -> list[ModelProvider]:
        return list(self._providers.values())

    def names(self) -> list[str]:
        return list(self._providers)

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def __iter__(self) -> Iterator[ModelProvider]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._providers)


providers = ProviderRegistry()
