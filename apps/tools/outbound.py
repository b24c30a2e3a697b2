"""The outbound HTTP clients configured from settings (one place for every caller)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.tools.http_guard import GuardedHttpClient, GuardPolicy


def guard_policy() -> GuardPolicy:
    return GuardPolicy.from_lists(
        settings.SSRF_ALLOWED_HOSTS,
        settings.SSRF_ALLOWED_NETWORKS,
        max_response_bytes=settings.HTTP_MAX_RESPONSE_BYTES,
        timeout=settings.HTTP_REQUEST_TIMEOUT,
    )


def guarded_client() -> GuardedHttpClient:
    return GuardedHttpClient(guard_policy())


def provider_guard_policy() -> GuardPolicy:
    """The policy for model provider base URLs: the general allow-list plus the
    provider-only one (e.g. a model server on the host that HTTP nodes must not reach)."""
    return GuardPolicy.from_lists(
        [*settings.SSRF_ALLOWED_HOSTS, *settings.PROVIDER_ALLOWED_HOSTS],
        [*settings.SSRF_ALLOWED_NETWORKS, *settings.PROVIDER_ALLOWED_NETWORKS],
    )


def provider_http_client() -> Any:
    """A new httpx2 client for the openai SDK whose connections go through the guard."""
    import httpx2
    import openai

    from apps.tools.guarded_httpx import guarded_transport

    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
    return openai.DefaultHttpxClient(
        transport=guarded_transport(provider_guard_policy, limits=limits), trust_env=False
    )


def mcp_http_client(**kwargs: Any) -> Any:
    """A new httpx2 AsyncClient for the mcp SDK whose connections go through the guard."""
    from apps.tools.guarded_httpx import guarded_async_httpx_client

    return guarded_async_httpx_client(guard_policy, **kwargs)
