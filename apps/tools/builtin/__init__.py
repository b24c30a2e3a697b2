"""Built-in tool providers: one module per provider, one registry line each."""

from __future__ import annotations

from apps.tools.base import builtin_providers

__all__ = ["builtin_providers"]

# One line per provider, e.g.:
# builtin_providers.register(time.TimeProvider())
