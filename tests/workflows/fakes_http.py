"""An HttpClient on the standard library (for tests and development) and a loopback echo
server that answers every request with what it received."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from apps.workflows.engine.ports import HttpResponse


class UrllibHttpClient:
    """The HttpClient port with urllib: no SSRF guard, so only for tests and development."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
        timeout: float | None = None,
        verify: bool = True,
    ) -> HttpResponse:
        headers = dict(headers or {})
        if params:
            url += ("&" if "?" in url else "?") + urlencode(list(params))
        body = content
        if files:
            boundary = uuid.uuid4().hex
            body = _multipart(data or {}, files, boundary)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urlencode(dict(data)).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        self.calls.append({"method": method, "url": url, "timeout": timeout, "verify": verify})
        request = urllib.request.Request(url, data=body, headers=headers, method=method.upper())
        context = None if verify else ssl._create_unverified_context()
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
                return _response(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as error:  # a non-2xx answer is still an answer
            with error:
                return _response(error.code, error.headers.items(), error.read())


def _response(status: int, items: object, content: bytes) -> HttpResponse:
    headers = {str(k): str(v) for k, v in items}  # type: ignore[attr-defined]
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return HttpResponse(
        status_code=status, headers=headers, content=content, content_type=content_type
    )


def _multipart(
    data: Mapping[str, str], files: Sequence[tuple[str, tuple[str, bytes, str]]], boundary: str
) -> bytes:
    out = bytearray()
    for name, value in data.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, blob, mime) in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'
        ).encode()
        out += blob + b"\r\n"
    return bytes(out + f"--{boundary}--\r\n".encode())


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


class _EchoHandler(BaseHTTPRequestHandler):
    """/status/<code> answers that status; /slow waits 2 s; /image a PNG; /download an
    attachment; anything else echoes the request as JSON."""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path == "/slow":
            time.sleep(2)
        if parts.path == "/image":
            return self._send(200, PNG, "image/png")
        if parts.path == "/download":
            extra = {"Content-Disposition": 'attachment; filename="report.csv"'}
            return self._send(200, b"a,b\n1,2\n", "text/csv", extra)
        status = int(parts.path.split("/")[2]) if parts.path.startswith("/status/") else 200
        echo = {
            "method": self.command,
            "path": parts.path,
            "query": parse_qsl(parts.query, keep_blank_values=True),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
            "body_base64": base64.b64encode(body).decode(),
        }
        self._send(status, json.dumps(echo).encode(), "application/json", {"X-Echo": "yes"})

    def _send(
        self, status: int, content: bytes, mime: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(content)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up (the /slow test) is expected


@contextmanager
def echo_server() -> Iterator[str]:
    """Run the echo server on 127.0.0.1; yields its base URL."""
    server = _QuietServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
