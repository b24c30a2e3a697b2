"""Server-sent events over ASGI with no buffering between a produced event and the client.

The producer (the engine or a model stream: blocking, thread-based code) runs off the
event loop and hands each payload to it, which writes ``data: {json}\\n\\n`` at once.
While nothing else goes out, ``event: ping`` keeps proxies from closing the stream. If the
client goes away the producer still runs to the end, so the message or run is stored
(Dify's behaviour).

``SSEStream(produce)`` sets the producer up: on a request thread it runs as soon as the
response is out (``apps.core.request_threads``), elsewhere it starts at once.
``.response()`` gives the view's database connection back and answers.
``sse_response(produce)`` does both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from apps.core.db import release_connection
from apps.core.request_threads import DaemonThreads, defer_until_answered

logger = logging.getLogger(__name__)
PING_SECONDS = 10.0
# After its first frame the producer waits (at most this long) until the event loop has
# written it: a model stream that arrives in a burst would otherwise keep the GIL (the
# interpreter switches threads every 5 ms) and hold the first token back behind the rest.
FIRST_FRAME_HANDOFF_SECONDS = 0.05
_DONE = object()


def sse_frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, default=str).encode() + b"\n\n"


PING_FRAME = b"event: ping\n\n"


def error_payload(code: str, message: str, status: int, **ids: Any) -> dict[str, Any]:
    return {"event": "error", **ids, "status": status, "code": code, "message": message}


class _Channel:
    """Producer thread → event loop: a deque, and a wake-up for a consumer that waits.

    Unlike an ``asyncio.Queue`` it needs no event loop when the producer starts (the view
    that starts it runs in a worker thread)."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._wake: Callable[[], None] | None = None
        self.first_sent = threading.Event()

    def put(self, item: Any) -> None:
        with self._lock:
            self._items.append(item)
            wake, self._wake = self._wake, None
        if wake is not None:
            wake()

    async def get(self, timeout: float) -> Any:
        """The next item, or None after ``timeout`` seconds with nothing."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            loop = asyncio.get_running_loop()
            ready = asyncio.Event()

            def wake() -> None:
                loop.call_soon_threadsafe(ready.set)

            self._wake = wake
        try:
            await asyncio.wait_for(ready.wait(), timeout)
        except TimeoutError:
            with self._lock:
                self._wake = None
                return self._items.popleft() if self._items else None
        with self._lock:
            return self._items.popleft()


# Producers of streams not started from a request thread (console test client, tools).
_producers = DaemonThreads("sse-producer")


class SSEStream:
    """One event stream and its producer.

    Served through the ASGI handler, the producer runs on the request's thread right after
    the response has been handed to the event loop (no thread hand-off before the model
    request goes out); anywhere else it starts at once on a pooled thread."""

    def __init__(self, produce: Callable[[], Iterator[dict[str, Any]]]):
        self._channel = _Channel()

        def job() -> None:
            self._work(produce)

        if not defer_until_answered(job):
            _producers.submit(job)

    def _work(self, produce: Callable[[], Iterator[dict[str, Any]]]) -> None:
        channel, first = self._channel, True
        try:
            for payload in produce():
                channel.put(sse_frame(payload))
                if first:
                    first = False
                    channel.first_sent.wait(FIRST_FRAME_HANDOFF_SECONDS)
        except Exception:
            logger.exception("stream producer failed")
            message = "The server encountered an internal error."
            channel.put(sse_frame(error_payload("internal_server_error", message, 500)))
        finally:
            from django.db import connections

            connections.close_all()  # this thread's connections only
            channel.put(_DONE)

    async def frames(self) -> AsyncIterator[bytes]:
        channel = self._channel
        while True:
            item = await channel.get(PING_SECONDS)
            if item is None:
                yield PING_FRAME
                continue
            if item is _DONE:
                channel.first_sent.set()
                return
            yield item  # resumed once the server has written it
            channel.first_sent.set()

    def response(self) -> StreamingHttpResponse:
        # The view's work in the database is done: give its connection back now, not when
        # the stream ends (with a pool, hundreds of open streams would otherwise hold them).
        release_connection()
        response = StreamingHttpResponse(self.frames(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


def sse_response(produce: Callable[[], Iterator[dict[str, Any]]]) -> StreamingHttpResponse:
    """``produce`` is called in a worker thread; each dict it yields is one SSE event."""
    return SSEStream(produce).response()
