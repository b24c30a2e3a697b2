"""Drop in-process caches in every process at once, through Redis pub/sub.

The hot-path caches (``apps.core.ttl_cache``: Service API keys with their app and
workspace, end users) live in each process for a few seconds. A write clears its own
process's copy at once; with ``REDIS_URL`` set it also publishes the cache's name on
``CHANNEL`` after the transaction commits, and a listener thread in every process (started
with the first cache read) clears its copy when the message arrives: a revoked key, a
disabled app or an archived workspace is refused everywhere within milliseconds instead of
after the time-to-live. If the listener loses Redis it clears everything it holds when it
is back (messages may have been missed); the time-to-live stays as the backstop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)
CHANNEL = "dify:cache-invalidate"
RETRY_SECONDS = 1.0


class CacheBus:
    def __init__(self, redis_url: str | None = None, channel: str = CHANNEL):
        self._redis_url = redis_url
        self.channel = channel
        self._caches: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._listener: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()

    @property
    def redis_url(self) -> str:
        return self._redis_url if self._redis_url is not None else settings.REDIS_URL

    def register(self, name: str, clear: Callable[[], None]) -> None:
        with self._lock:
            if name in self._caches:
                raise ValueError(f"cache {name!r} is registered already")
            self._caches[name] = clear

    def _clear(self, name: str | None = None) -> None:
        with self._lock:
            targets = list(self._caches.values()) if name is None else [self._caches.get(name)]
        for clear in targets:
            if clear is not None:
                clear()

    def invalidate(self, name: str) -> None:
        """Clear ``name`` here now, and in every process once the write has committed."""
        self._clear(name)
        if self.redis_url:
            transaction.on_commit(lambda: self._publish(name))

    def _publish(self, name: str) -> None:
        try:
            import redis

            with redis.Redis.from_url(self.redis_url, socket_timeout=2) as client:
                client.publish(self.channel, name)
        except Exception:
            logger.warning("cache invalidation of %s was not published", name, exc_info=True)

    def ensure_listening(self) -> None:
        """Start the listener thread (once) when Redis is configured."""
        if self._listener is not None or not self.redis_url:
            return
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="cache-bus", daemon=True
                )
                self._listener.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """True once the listener is subscribed (tests)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stopped.set()

    def _listen(self) -> None:
        import redis

        first = True
        while not self._stopped.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url, socket_keepalive=True)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if not first:
                    self._clear()  # messages may have been missed while away
                first = False
                self._ready.set()
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        data = message.get("data")
                        name = data.decode() if isinstance(data, bytes) else str(data)
                        self._clear(name)
                pubsub.close()
                client.close()
            except Exception:
                self._ready.clear()
                logger.warning("cache invalidation listener lost Redis; retrying", exc_info=True)
                time.sleep(RETRY_SECONDS)


cache_bus = CacheBus()
