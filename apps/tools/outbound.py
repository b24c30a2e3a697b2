"""The outbound HTTP client configured from settings (one place for every caller)."""

from __future__ import annotations

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
