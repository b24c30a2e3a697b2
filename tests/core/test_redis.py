"""With REDIS_URL (as in CI), Channels and the cache run on the real Redis."""

import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache, caches

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") and not os.environ.get("CI"),
    reason="REDIS_URL not set (CI always sets it)",
)


@needs_redis
def test_channel_layer_round_trips_through_redis():
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    channel = f"test-{uuid.uuid4().hex}"
    async_to_sync(layer.send)(channel, {"type": "ping", "n": 1})
    assert async_to_sync(layer.receive)(channel) == {"type": "ping", "n": 1}


@needs_redis
def test_cache_is_redis():
    key = f"test-{uuid.uuid4().hex}"
    cache.set(key, {"a": 1}, 5)
    assert cache.get(key) == {"a": 1}
    assert type(caches["default"]).__name__ == "RedisCache"


def test_celery_is_eager_without_a_broker_and_uses_redis_with_one():
    from django.conf import settings

    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    else:
        assert settings.CELERY_TASK_ALWAYS_EAGER is True
        assert str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).endswith("InMemoryChannelLayer")
