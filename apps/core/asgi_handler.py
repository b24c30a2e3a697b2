"""Django's ASGI handler with the middleware chain and the view run in one thread hop.

Django's own ``ASGIHandler`` builds an *async* middleware chain. Every ``MiddlewareMixin``
middleware (security, sessions, common, CSRF, auth, messages, clickjacking) then hops to
the request's thread and back for each ``process_request`` / ``process_view`` /
``process_response``, and a sync-only middleware (WhiteNoise, ours) hops back to the event
loop: about a dozen thread hand-offs per request, ~3 ms of a streamed answer's first token
on two busy cores (bench/api.py). Here the chain is the sync one, as under WSGI, and the
whole of it runs in one ``sync_to_async`` hop in the request's own thread (Django's
per-request ``ThreadSensitiveContext`` is kept, so requests still run in parallel).
Async views still work: the sync chain runs them with ``async_to_sync``, as under WSGI.
Responses, streaming ones included, are still sent by the event loop.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response: Any = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        return response


def get_one_hop_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
