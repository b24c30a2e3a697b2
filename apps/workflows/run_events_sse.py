"""Server-sent events of a run's stored events, each frame with ``id: <seq>`` (the SSE
standard), so a client can resume with ``Last-Event-ID``.

Both the original ``POST /workflows/run`` stream and ``GET /workflow/{id}/events`` follow
the run's events in the event store: replay what is stored after ``after``, then wait
for new ones until a terminal event (``workflow_finished`` / ``error``). A reader thread
does the blocking reads; the event loop writes each frame at once and ``event: ping``
while nothing else goes out. ``apps.workflows.sse`` stays the writer for streams that
are not resumable (its frames carry no ``id:``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from django.http import StreamingHttpResponse

from apps.workflows.run_events_store import is_terminal, run_event_store
from apps.workflows.sse import PING_FRAME, PING_SECONDS, error_payload, sse_frame

logger = logging.getLogger(__name__)
READ_WAIT_SECONDS = 1.0
FINISHED_CHECK_SECONDS = 3.0
_DONE = object()

# Called in the reader thread when no event came for a while: None while the run goes on,
# else the run's final payload (sent only if nothing at all is stored for the run).
FinishedCheck = Callable[[], dict[str, Any] | None]


def id_frame(seq: int, payload: dict[str, Any]) -> bytes:
    return f"id: {seq}\n".encode() + sse_frame(payload)


def _follow(
    run_id: str,
    after: int,
    finished: FinishedCheck,
    max_seconds: float,
    put: Callable[[Any], None],
    closed: threading.Event,
) -> None:
    store = run_event_store()
    cursor = after
    deadline = time.monotonic() + max_seconds
    next_check = 0.0  # check at once: a finished run with nothing new closes immediately

    def send(events: list[tuple[int, dict[str, Any]]]) -> bool:
        nonlocal cursor
        for seq, payload in events:
            cursor = seq
            put(id_frame(seq, payload))
            if is_terminal(payload):
                return True
        return False

    if after > 0:  # read from the client's last event: if that was the final one, stop
        head = store.read(run_id, after - 1)
        if head and head[0][0] == after and (is_terminal(head[0][1]) or send(head[1:])):
            return
    while not closed.is_set():
        wait = READ_WAIT_SECONDS if next_check else 0.0
        if send(store.read(run_id, cursor, wait)):
            return
        now = time.monotonic()
        if now > deadline:
            return
        if now < next_check:
            continue
        next_check = now + FINISHED_CHECK_SECONDS
        final = finished()
        if final is None:
            continue
        if send(store.read(run_id, cursor)):  # stored just before the run ended
            return
        if store.last_seq(run_id) == 0:
            put(sse_frame(final))  # not streamed through the store (or expired): final state
        return


async def _relay(
    run_id: str, after: int, finished: FinishedCheck, max_seconds: float
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    closed = threading.Event()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        try:
            _follow(run_id, after, finished, max_seconds, put, closed)
        except Exception:
            logger.exception("following the events of run %s failed", run_id)
            message = "The server encountered an internal error."
            put(sse_frame(error_payload("internal_server_error", message, 500)))
        finally:
            from django.db import connections

            connections.close_all()  # this thread's connections only
            put(_DONE)

    threading.Thread(target=work, name="run-events-reader", daemon=True).start()
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), PING_SECONDS)
            except TimeoutError:
                yield PING_FRAME
                continue
            if item is _DONE:
                return
            yield item
    finally:
        closed.set()  # the client went away: the reader stops at its next wake-up


def run_events_response(
    run_id: str, *, after: int = 0, finished: FinishedCheck, max_seconds: float
) -> StreamingHttpResponse:
    """The run's events after sequence number ``after`` as SSE, until the run ends."""
    response = StreamingHttpResponse(
        _relay(run_id, after, finished, max_seconds), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
