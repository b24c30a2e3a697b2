import threading
import time
import urllib.request

import pytest
from django.core import signals

from tests.factories import app_key, make_app, make_workspace


def test_service_api_over_real_http(asgi_server):
    key = app_key(make_app(make_workspace(), name="Live"))
    request = urllib.request.Request(
        asgi_server + "/v1/info", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert b'"name":"Live"' in response.read().replace(b" ", b"")


def test_request_signals_are_sent_once_per_request(asgi_server):
    """The one-hop handler sends request_started (with the scope) in the request's hop and
    request_finished after the last byte, once each, as Django's handler does."""
    seen: list[tuple[str, object]] = []

    def started(sender, scope=None, **kwargs):
        seen.append(("started", (scope or {}).get("path")))

    def finished(sender, **kwargs):
        seen.append(("finished", None))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        with urllib.request.urlopen(asgi_server + "/health", timeout=5) as response:
            assert response.status == 200
        deadline = time.monotonic() + 2
        while len(seen) < 2 and time.monotonic() < deadline:  # finished follows the last byte
            time.sleep(0.01)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert seen == [("started", "/health"), ("finished", None)]


def test_requests_run_on_reused_threads(asgi_server):
    names: list[str] = []

    def started(sender, **kwargs):
        names.append(threading.current_thread().name)

    signals.request_started.connect(started)
    try:
        for _ in range(3):
            with urllib.request.urlopen(asgi_server + "/health", timeout=5) as response:
                assert response.status == 200
    finally:
        signals.request_started.disconnect(started)
    assert len(names) == 3 and names[0].startswith("request")
    assert len(set(names)) == 1  # one after the other: the same thread each time


@pytest.mark.django_db(transaction=True)
def test_a_request_thread_gives_its_connection_back():
    """The thread serves other requests next: its database connection goes back to the
    pool when the request is handled (the health view has used it)."""
    from django.db import connection
    from django.test import RequestFactory

    from apps.core.asgi_handler import OneHopASGIHandler

    handler = OneHopASGIHandler()
    seen: dict[str, object] = {}

    def serve() -> None:
        response = handler._started_then_response(RequestFactory().get("/health"))
        seen["status"] = response.status_code
        seen["open"] = connection.connection is not None

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join(30)
    assert seen == {"status": 200, "open": False}
