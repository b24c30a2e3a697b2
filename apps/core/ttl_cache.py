"""A small in-process cache with a time-to-live and a size bound, safe across threads.

For reads on every request whose rows change rarely (Service API keys, end users): a
process serves them from memory for ``ttl`` seconds. Writers drop entries in their own
process (``discard`` / ``clear`` from model signals); other processes see a change
within ``ttl``. Values are stored as given: cache immutable snapshots (e.g. pickled
model instances, see ``ModelSnapshotCache``) so no two requests share a mutable object.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TTLCache:
    def __init__(self, ttl: float, max_entries: int = 1024):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Read it before loading a value, pass it to ``put``: a value loaded while a writer
        dropped entries is then not cached (it may predate the write)."""
        return self._generation

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0] >= self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, value: Any, generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            self._entries[key] = (time.monotonic(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


class ModelSnapshotCache(TTLCache, Generic[T]):
    """Caches model instances (with their select_related objects) pickled: every hit is
    a fresh copy, as a query would return."""

    def get_instance(self, key: Hashable) -> T | None:
        data = self.get(key)
        return None if data is None else pickle.loads(data)  # our own bytes

    def put_instance(self, key: Hashable, instance: T, generation: int | None = None) -> None:
        data = pickle.dumps(instance, protocol=pickle.HIGHEST_PROTOCOL)
        self.put(key, data, generation)
