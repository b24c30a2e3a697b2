"""Every streamed payload of a workflow run, in order, numbered from 1, so a client that
loses its stream can reconnect and get exactly the events it missed.

With REDIS_URL each run is a Redis Stream ``dify:run:<id>:events`` whose entry ids are
``<seq>-0`` (trimmed with ``MAXLEN ~``, expiring a day after the last event), so any
replica can serve a reconnect. Without Redis (embedded mode, one process) an in-process
store keeps the events of recent runs, with a condition variable to wake waiting readers.

One producer appends to a run (the thread driving it); any number of readers follow it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from django.conf import settings

TERMINAL_EVENTS = frozenset({"workflow_finished", "error"})
CHAT_TERMINAL_EVENTS = frozenset({"message_end", "error"})
EVENT_TTL_SECONDS = 24 * 3600
MAX_EVENTS_PER_RUN = 100_000
MAX_RUNS_IN_MEMORY = 1000

Event = tuple[int, dict[str, Any]]


def is_terminal(payload: dict[str, Any]) -> bool:
    """The last event of a run's stream: ``workflow_finished`` (or ``error``) of a workflow
    app; ``message_end`` (or ``error``) of a chatflow, whose events carry ``message_id``
    (its ``workflow_finished`` comes before the answer's ``message_replace``/``message_end``)."""
    if "message_id" in payload:
        return payload.get("event") in CHAT_TERMINAL_EVENTS
    return payload.get("event") in TERMINAL_EVENTS


class RunEventStore(Protocol):
    def append(self, run_id: str, payload: dict[str, Any]) -> int:
        """Store the next payload of the run; returns its sequence number (1, 2, …)."""
        ...

    def read(self, run_id: str, after: int, timeout: float = 0.0) -> list[Event]:
        """Events with a sequence number above ``after``; waits up to ``timeout`` seconds
        for at least one when there is none yet."""
        ...

    def last_seq(self, run_id: str) -> int:
        """The highest stored sequence number (0: nothing stored for the run)."""
        ...

    def close(self, run_id: str) -> None:
        """The producer is done with the run (its events stay readable)."""
        ...


class _MemoryRun:
    __slots__ = ("events", "touched")

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.touched = time.monotonic()


class MemoryRunEventStore:
    def __init__(self, *, ttl: float = EVENT_TTL_SECONDS, max_runs: int = MAX_RUNS_IN_MEMORY):
        self._runs: OrderedDict[str, _MemoryRun] = OrderedDict()
        self._changed = threading.Condition()
        self._ttl, self._max_runs = ttl, max_runs

    def append(self, run_id: str, payload: dict[str, Any]) -> int:
        with self._changed:
            run = self._runs.get(run_id)
            if run is None:
                run = self._runs[run_id] = _MemoryRun()
            run.events.append(payload)
            run.touched = time.monotonic()
            self._runs.move_to_end(run_id)
            self._evict()
            self._changed.notify_all()
            return len(run.events)

    def read(self, run_id: str, after: int, timeout: float = 0.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                run = self._runs.get(run_id)
                if run is not None and len(run.events) > after:
                    start = max(after, 0)
                    return list(enumerate(run.events[start:], start=start + 1))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)

    def last_seq(self, run_id: str) -> int:
        with self._changed:
            run = self._runs.get(run_id)
            return len(run.events) if run is not None else 0

    def close(self, run_id: str) -> None:
        return None

    def _evict(self) -> None:
        oldest = time.monotonic() - self._ttl
        while self._runs:
            run_id, run = next(iter(self._runs.items()))
            if len(self._runs) <= self._max_runs and run.touched >= oldest:
                break
            del self._runs[run_id]


def _key(run_id: str) -> str:
    return f"dify:run:{run_id}:events"


def _seq_of(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


class RedisRunEventStore:
    def __init__(self, redis_url: str, *, ttl: int = EVENT_TTL_SECONDS):
        import redis

        self._redis: Any = redis.Redis.from_url(redis_url)
        self._ttl = ttl
        self._next: dict[str, int] = {}  # producer side: last sequence number per open run
        self._lock = threading.Lock()

    def append(self, run_id: str, payload: dict[str, Any]) -> int:
        with self._lock:
            seq = self._next.get(run_id)
            if seq is None:
                seq = self.last_seq(run_id)
            seq += 1
            self._next[run_id] = seq
        data = json.dumps(payload, ensure_ascii=False, default=str)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(
            _key(run_id), {"p": data}, id=f"{seq}-0", maxlen=MAX_EVENTS_PER_RUN, approximate=True
        )
        pipe.expire(_key(run_id), self._ttl)
        pipe.execute()
        return seq

    def read(self, run_id: str, after: int, timeout: float = 0.0) -> list[Event]:
        block = int(timeout * 1000) if timeout > 0 else None
        if block == 0:
            block = 1  # BLOCK 0 would wait forever
        found = self._redis.xread({_key(run_id): f"{max(after, 0)}-0"}, block=block)
        events: list[Event] = []
        for _stream, entries in found or []:
            for entry_id, fields in entries:
                events.append((_seq_of(entry_id), json.loads(fields[b"p"])))
        return events

    def last_seq(self, run_id: str) -> int:
        last = self._redis.xrevrange(_key(run_id), count=1)
        return _seq_of(last[0][0]) if last else 0

    def close(self, run_id: str) -> None:
        with self._lock:
            self._next.pop(run_id, None)


_store: RunEventStore | None = None
_store_lock = threading.Lock()


def run_event_store() -> RunEventStore:
    global _store
    with _store_lock:
        if _store is None:
            redis_url = settings.REDIS_URL
            _store = RedisRunEventStore(redis_url) if redis_url else MemoryRunEventStore()
        return _store
