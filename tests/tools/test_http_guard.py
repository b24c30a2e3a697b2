"""The outbound guard refuses internal addresses and follows only safe redirects."""

import http.server
import threading

import pytest

from apps.tools.http_guard import BlockedRequestError, GuardedHttpClient, GuardPolicy


@pytest.fixture
def loopback_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/redirect-internal"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            if self.path.startswith("/redirect-local"):
                self.send_response(302)
                self.send_header("Location", "/hello")
                self.end_headers()
                return
            body = b"x" * 5000 if self.path.startswith("/big") else b"hello " + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_internal_addresses_are_refused(url):
    with pytest.raises(BlockedRequestError):
        GuardedHttpClient().request("GET", url, timeout=2)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "http:///nohost"])
def test_other_schemes_are_refused(url):
    with pytest.raises(BlockedRequestError):
        GuardedHttpClient().request("GET", url)


def test_allow_listed_network_works_and_redirects_are_rechecked(loopback_server):
    client = GuardedHttpClient(GuardPolicy.from_lists(networks=["127.0.0.0/8"]))
    response = client.request("GET", loopback_server + "/hello", params=[("a", "1")])
    assert response.status_code == 200 and response.content == b"hello /hello?a=1"
    assert client.request("GET", loopback_server + "/redirect-local").content == b"hello /hello"
    with pytest.raises(BlockedRequestError, match=r"169\.254\.169\.254"):
        client.request("GET", loopback_server + "/redirect-internal")


def test_response_size_is_capped(loopback_server):
    client = GuardedHttpClient(
        GuardPolicy.from_lists(networks=["127.0.0.0/8"], max_response_bytes=1000)
    )
    with pytest.raises(BlockedRequestError, match="larger than 1000"):
        client.request("GET", loopback_server + "/big")


def test_without_allow_list_loopback_server_is_refused(loopback_server):
    with pytest.raises(BlockedRequestError, match="internal address"):
        GuardedHttpClient().request("GET", loopback_server + "/hello")
