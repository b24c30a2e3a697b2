"""A fake Dify API-based extension on 127.0.0.1 (real HTTP): answers ``ping`` with
``{"result": "pong"}`` (unless ``answers["ping"]`` says otherwise) and every other point
with what ``answers[point]`` says (a dict, or a function of the request's params).
Requests are recorded; ``status`` forces an HTTP error.

    with FakeExtensionServer(api_key="ext-key") as server:
        server.answers["app.moderation.input"] = {"flagged": False}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Answer = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]


class FakeExtensionServer:
    def __init__(self, *, api_key: str = "ext-secret-key") -> None:
        self.api_key = api_key
        self.answers: dict[str, Answer] = {}
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/extension"

    def points(self) -> list[str]:
        return [r["body"].get("point") for r in self.requests]

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                fake.requests.append({"headers": dict(self.headers), "body": body})
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, {"error": "bad key"})
                if fake.status != 200:
                    return self._send(fake.status, {"error": "failing on purpose"})
                point = body.get("point")
                answer = fake.answers.get(str(point))
                if point == "ping" and answer is None:
                    return self._send(200, {"result": "pong"})
                if answer is None:
                    return self._send(400, {"error": f"unknown point {point}"})
                params = body.get("params") or {}
                self._send(200, answer(params) if callable(answer) else answer)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
