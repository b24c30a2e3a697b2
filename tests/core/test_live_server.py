import urllib.request

from tests.factories import app_key, make_app, make_workspace


def test_service_api_over_real_http(asgi_server):
    key = app_key(make_app(make_workspace(), name="Live"))
    request = urllib.request.Request(
        asgi_server + "/v1/info", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert b'"name":"Live"' in response.read().replace(b" ", b"")
