"""Server-sent events over ASGI with no buffering between a produced event and the client.

The producer (the engine or a model stream: blocking, thread-based code) runs in its own
thread and hands each payload to the event loop, which writes ``data: {json}\\n\\n`` at
once. While nothing else goes out, ``event: ping`` keeps proxies from closing the stream.
If the client goes away the producer still runs to the end, so the message or run is
stored (Dify's behaviour).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from apps.core.db import release_connection

logger = logging.getLogger(__name__)
PING_SECONDS = 10.0
_DONE = object()


def sse_frame(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False, default=str).encode() + b"\n\n"


PING_FRAME = b"event: ping\n\n"


def error_payload(code: str, message: str, status: int, **ids: Any) -> dict[str, Any]:
    return {"event": "error", **ids, "status": status, "code": code, "message": message}


async def _relay(produce: Callable[[], Iterator[dict[str, Any]]]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        try:
            for payload in produce():
                put(sse_frame(payload))
        except Exception:
            logger.exception("stream producer failed")
            message = "The server encountered an internal error."
            put(sse_frame(error_payload("internal_server_error", message, 500)))
        finally:
            from django.db import connections

            connections.close_all()  # this thread's connections only
            put(_DONE)

    threading.Thread(target=work, name="sse-producer", daemon=True).start()
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), PING_SECONDS)
        except TimeoutError:
            yield PING_FRAME
            continue
        if item is _DONE:
            return
        yield item


def sse_response(produce: Callable[[], Iterator[dict[str, Any]]]) -> StreamingHttpResponse:
    """``produce`` is called in a worker thread; each dict it yields is one SSE event."""
    # The view's work in the database is done: give its connection back now, not when the
    # stream ends (with a pool, hundreds of open streams would otherwise hold them all).
    release_connection()
    response = StreamingHttpResponse(_relay(produce), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
