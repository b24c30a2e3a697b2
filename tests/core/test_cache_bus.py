"""Cache invalidation across processes through Redis pub/sub (apps/core/cache_bus.py).

"Another process" is a second CacheBus with its own cache, listening on real Redis."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from apps.core.cache_bus import CHANNEL, CacheBus
from apps.core.ttl_cache import TTLCache
from apps.tenants.services import api_key_delete
from apps.workflows.models import App
from tests.factories import app_key, make_app, make_workspace, service

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")


def _other_process(channel: str, name: str) -> tuple[CacheBus, TTLCache]:
    cache = TTLCache(ttl=60.0)  # a long time-to-live: only a message can clear it early
    bus = CacheBus(REDIS_URL, channel)
    bus.register(name, cache.clear)
    bus.ensure_listening()
    assert bus.wait_ready()
    return bus, cache


def _cleared_within(cache: TTLCache, key: str, seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if cache.get(key) is None:
            return time.monotonic() - started
        time.sleep(0.005)
    return None


@pytest.mark.django_db(transaction=True)
def test_an_invalidation_reaches_another_process():
    channel = f"test:{uuid.uuid4()}"
    other, cache = _other_process(channel, "things")
    try:
        cache.put("a", 1)
        CacheBus(REDIS_URL, channel).invalidate("things")
        assert _cleared_within(cache, "a", 1.0) is not None
        cache.put("b", 2)
        CacheBus(REDIS_URL, channel).invalidate("something-else")  # not its cache
        time.sleep(0.1)
        assert cache.get("b") == 2
    finally:
        other.stop()


@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_is_refused_by_other_processes_at_once():
    other, cache = _other_process(CHANNEL, "api-keys")
    try:
        app = make_app(make_workspace())
        key = app_key(app)
        assert service(key).get("/v1/info").status_code == 200  # cached here now
        cache.put("warm", "a key row another process holds")
        key_id = app.workspace.api_keys.get(app=app).pk
        api_key_delete(workspace=app.workspace, key_id=str(key_id))
        took = _cleared_within(cache, "warm", 1.0)
        assert took is not None and took < 1.0  # the 2 s time-to-live was not waited for
        assert service(key).get("/v1/info").status_code == 401
        cache.put("warm", "again")
        App.objects.filter(pk=app.pk).update(enable_api=False)  # no signal: TTL applies
        time.sleep(0.1)
        assert cache.get("warm") == "again"
    finally:
        other.stop()
