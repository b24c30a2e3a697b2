"""Django's ASGI handler with the middleware chain and the view run in one thread hop.

Django's own ``ASGIHandler`` builds an *async* middleware chain. Every ``MiddlewareMixin``
middleware (security, sessions, common, CSRF, auth, messages, clickjacking) then hops to
the request's thread and back for each ``process_request`` / ``process_view`` /
``process_response``, and a sync-only middleware (WhiteNoise, ours) hops back to the event
loop: about a dozen thread hand-offs per request, ~3 ms of a streamed answer's first token
on two busy cores (bench/api.py). Here the chain is the sync one, as under WSGI, and the
whole of it runs in one hop to a request thread (requests still run in parallel).
Async views still work: the sync chain runs them with ``async_to_sync``, as under WSGI.
Responses, streaming ones included, are still sent by the event loop.

``request_started`` goes out in that same hop. Django sends it from the event loop with
``Signal.asend``, which runs the (sync) receivers, closing stale database connections, in a
thread hop of their own before the request's: ~1 ms more before the view on two busy cores.
So ``handle`` is Django's sequence (read the body, build the request, answer it while
watching for a disconnect, close the response) with the signal moved into the hop.

The hop runs on a pool of reused threads (``REQUEST_THREADS_MAX`` handlers at once), not on
the new thread Django's per-request ``ThreadSensitiveContext`` starts for each request
(~0.4 ms before the view on two busy cores, and a thread start per request). The thread
hands the response to the event loop itself, then runs what the view deferred until then
(a streamed answer's producer, ``apps.core.request_threads``). Database connections are
per thread, so the hop gives its connections back (``close_old_connections``, as at
``request_finished``) before the thread serves another request; with persistent
connections (``DB_CONN_MAX_AGE``) they stay with the thread, as Django keeps them. Other
thread-sensitive work of the request (``response.close``, sync iterators of streaming
responses) still runs in the request's own context thread, started only if needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

from apps.core.request_threads import RequestThreads


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:  # Django's bad-request answer (e.g. a malformed header)
            assert error_response is not None
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return
        disconnect = asyncio.create_task(self.listen_for_disconnect(receive))
        answer = asyncio.create_task(self._answer(request, send))
        await asyncio.wait((disconnect, answer), return_when=asyncio.FIRST_COMPLETED)
        for task in (disconnect, answer):  # the disconnect watcher first: it ends quietly
            if not task.done():
                task.cancel()  # a view may handle its cancellation
            try:
                await task
            except (RequestAborted, asyncio.CancelledError):
                pass
            except AssertionError:  # an unexpected ASGI message after the body
                body_file.close()
                raise
        if answer.cancelled():
            await signals.request_finished.asend(sender=self.__class__)
        else:
            await sync_to_async(answer.result().close)()  # sends request_finished
        body_file.close()

    async def _answer(self, request: HttpRequest, send: Any) -> HttpResponseBase:
        response = await self.run_get_response(request)
        with contextlib.suppress(asyncio.CancelledError):  # the client went away meanwhile
            await self.send_response(response, send)
        return response

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[HttpResponseBase] = loop.create_future()
        context = contextvars.copy_context()  # request id, asgiref's context, as sync_to_async

        def handler() -> None:
            try:
                response = context.run(self._started_then_response, request)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                _hand_over(loop, answered, None, exc)
            else:
                _hand_over(loop, answered, response, None)

        _request_threads().submit(handler)
        return await answered

    def _started_then_response(self, request: HttpRequest) -> HttpResponseBase:
        scope = getattr(request, "scope", None)
        try:
            signals.request_started.send(sender=self.__class__, scope=scope)
            return self.get_response(request)
        finally:
            close_old_connections()  # this thread serves other requests next


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    answered: asyncio.Future[HttpResponseBase],
    response: HttpResponseBase | None,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if answered.cancelled():  # the client went away while the view ran
            return
        if error is not None:
            answered.set_exception(error)
        else:
            answered.set_result(response)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # a closed loop (server shut down) waits for none
        loop.call_soon_threadsafe(settle)


_threads: RequestThreads | None = None
_threads_lock = threading.Lock()


def _request_threads() -> RequestThreads:
    """The process's request threads: started as needed, reused, at most
    ``REQUEST_THREADS_MAX`` handlers at once (a request beyond that waits for a free one)."""
    global _threads
    if _threads is None:
        with _threads_lock:
            if _threads is None:
                _threads = RequestThreads(int(getattr(settings, "REQUEST_THREADS_MAX", 256)))
    return _threads


def get_one_hop_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
