import time
import urllib.request

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
