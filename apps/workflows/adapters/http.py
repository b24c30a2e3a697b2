"""HttpClient port over the guarded outbound client (SSRF checks, pinning, caps)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from apps.tools.http_guard import BlockedRequestError, GuardedHttpClient
from apps.tools.outbound import guarded_client
from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.ports import HttpResponse


class GuardedHttpPort:
    def __init__(self, client: GuardedHttpClient | None = None):
        self.client = client or guarded_client()

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
        sent = dict(headers or {})
        body = content
        if files:
            body, content_type = _multipart(data or {}, files)
            sent["Content-Type"] = content_type
        elif data is not None:
            body = urlencode(list(data.items())).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            response = self.client.request(
                method, url, headers=sent, params=params, body=body, timeout=timeout,
                verify=verify,
            )  # fmt: skip
        except BlockedRequestError as exc:
            raise NodeError(str(exc)) from exc
        except (TimeoutError, OSError) as exc:
            raise NodeError(f"request failed: {exc}") from exc
        return HttpResponse(
            status_code=response.status_code,
            headers=response.headers,
            content=response.content,
            content_type=response.content_type,
        )


def _multipart(
    fields: Mapping[str, str], files: Sequence[tuple[str, tuple[str, bytes, str]]]
) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + str(value).encode()
            + b"\r\n"
        )
    for name, (filename, payload, mime) in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {mime or "application/octet-stream"}\r\n\r\n'
        )
        parts.append(head.encode() + payload + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
