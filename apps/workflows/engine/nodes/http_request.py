"""http-request: one HTTP call through the HttpClient port (the host's is SSRF-guarded).

Outputs as Dify: ``status_code``, ``body`` (text; "" when the answer is a file),
``headers`` (lower-case names) and ``files``. A file answer becomes one dict in ``files``:
Dify's file fields plus ``content_base64`` (we keep the bytes in the run instead of a tool
file store). A non-2xx status is an output, not a failure, unless the node has an
error strategy or retries, as in Dify.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import uuid
from collections.abc import Mapping
from email.message import Message
from typing import Any
from urllib.parse import urlencode

from ..errors import NodeError
from ..ports import FileReader, HttpClient, HttpResponse
from ..variables import TEMPLATE_PATTERN, VariablePool, to_text
from . import register
from .base import Node, NodeResult, RunContext

AUTH_TYPES = ("basic", "bearer", "custom")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
BODY_TYPES = ("none", "form-data", "x-www-form-urlencoded", "raw-text", "json", "binary")
CONTENT_TYPES = {
    "json": "application/json",
    "x-www-form-urlencoded": "application/x-www-form-urlencoded",
    "raw-text": "text/plain",
}
DEFAULT_TIMEOUT = {"connect": 10, "read": 60, "write": 20}  # Dify's HTTP_REQUEST_MAX_*
MAX_TEXT_SIZE = 1024 * 1024
MAX_BINARY_SIZE = 10 * 1024 * 1024
_TEXT_APPLICATION = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "graphql")
_TEXT_MARKERS = (b"{", b"[", b"<", b"function", b"var ", b"const ", b"let ")
Part = tuple[str, str | None, bytes, str | None]  # name, filename, content, content type


@register
class HttpRequestNode(Node):
    node_type = "http-request"

    def parse(self) -> None:
        method = self.require("method", str).lower()
        if method not in METHODS:
            raise self.fail_config("method", f"must be one of {', '.join(METHODS)}")
        self.method = method.upper()
        self.url: str = self.require("url", str)
        self.headers = self._lines("headers")
        self.params = self._lines("params")
        auth = self.data.get("authorization") or {"type": "no-auth"}
        if not isinstance(auth, dict) or auth.get("type") not in ("no-auth", "api-key"):
            raise self.fail_config("authorization.type", "must be no-auth or api-key")
        self.auth: dict[str, Any] | None = None
        if auth["type"] == "api-key":
            config = auth.get("config")
            if not isinstance(config, dict) or config.get("type") not in AUTH_TYPES:
                raise self.fail_config("authorization.config.type", f"must be one of {AUTH_TYPES}")
            self.auth = config
        body = self.data.get("body") or {"type": "none"}
        if not isinstance(body, dict) or body.get("type", "none") not in BODY_TYPES:
            raise self.fail_config("body.type", f"must be one of {', '.join(BODY_TYPES)}")
        self.body_type: str = body.get("type", "none")
        data = body.get("data") or []
        if isinstance(data, str):  # older DSL: the raw body as one string
            data = [{"type": "text", "key": "", "value": data}]
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise self.fail_config("body.data", "must be a list of {key, type, value, file}")
        if self.body_type in ("raw-text", "json", "binary") and len(data) > 1:
            raise self.fail_config("body.data", f"a {self.body_type} body has exactly one item")
        if self.body_type == "binary" and data:
            self.selector("body.data[0].file", data[0].get("file"))
        self.body_data: list[dict[str, Any]] = data
        timeout = self.data.get("timeout") or {}
        if not isinstance(timeout, dict):
            raise self.fail_config("timeout", "must be an object")
        self.timeout = {k: float(timeout.get(k) or DEFAULT_TIMEOUT[k]) for k in DEFAULT_TIMEOUT}
        self.ssl_verify = self.data.get("ssl_verify")
        retry = self.data.get("retry_config") or {}
        self.status_fails = bool(self.data.get("error_strategy")) or bool(
            isinstance(retry, dict) and retry.get("retry_enabled")
        )

    def _lines(self, field: str) -> list[tuple[str, str]]:
        """Dify's "key:value" lines, one pair per line (values may hold ``{{#…#}}``)."""
        raw = self.data.get(field) or ""
        if not isinstance(raw, str):
            raise self.fail_config(field, "must be 'key:value' lines")
        pairs = []
        for line in raw.splitlines():
            key, _, value = line.strip().partition(":")
            if key.strip():
                pairs.append((key.strip(), value.strip()))
        return pairs

    # -- running -----------------------------------------------------------------------------
    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        url = pool.render(self.url).strip()
        if not url:
            raise NodeError("url is required")
        if not url.startswith(("http://", "https://")):
            raise NodeError("url should start with http:// or https://")
        params = [(pool.render(k), pool.render(v)) for k, v in self.params]
        headers = {pool.render(k): pool.render(v) for k, v in self.headers}
        secret = self._authorize(pool, headers)
        content = self._body(pool, ctx, headers)
        client: HttpClient = self.port(ctx, "http_client")
        timeout = self.timeout["read"]  # the port takes one timeout: per socket operation
        request_log = self._log(url, params, headers, secret)
        try:
            response = client.request(
                self.method, url, headers=headers, params=params or None, content=content,
                timeout=timeout, verify=True if self.ssl_verify is None else bool(self.ssl_verify),
            )  # fmt: skip
        except NodeError:
            raise
        except Exception as exc:
            if _is_timeout(exc):
                raise NodeError(f"HTTP request timed out after {timeout:g}s: {url}") from exc
            raise NodeError(f"HTTP request failed: {exc}") from exc
        outputs = self._outputs(url, response)
        if self.status_fails and not 200 <= response.status_code < 300:
            raise NodeError(f"Request failed with status code {response.status_code}")
        return NodeResult(
            inputs={}, process_data={"request": pool.mask(request_log)}, outputs=outputs
        )

    def _authorize(self, pool: VariablePool, headers: dict[str, str]) -> str | None:
        if self.auth is None:
            return None
        api_key = pool.render(str(self.auth.get("api_key") or ""))
        header = str(self.auth.get("header") or "") or "Authorization"
        kind = self.auth["type"]
        if kind == "bearer":
            headers[header] = f"Bearer {api_key}"
        elif kind == "basic":
            if ":" in api_key:  # user:password → base64, an already encoded value as is
                api_key = base64.b64encode(api_key.encode()).decode()
            headers[header] = f"Basic {api_key}"
        else:
            headers[header] = api_key
        return header

    def _body(self, pool: VariablePool, ctx: RunContext, headers: dict[str, str]) -> bytes | None:
        kind, data = self.body_type, self.body_data
        if kind == "none" or (not data and kind != "form-data"):
            return None
        has_type = any(k.lower() == "content-type" for k in headers)
        if not has_type and kind in CONTENT_TYPES:
            headers["Content-Type"] = CONTENT_TYPES[kind]
        if kind == "raw-text":
            return pool.render(str(data[0].get("value", ""))).encode()
        if kind == "json":
            return json.dumps(
                _json_body(pool, str(data[0].get("value", ""))), ensure_ascii=False
            ).encode()
        if kind == "x-www-form-urlencoded":
            render = pool.render
            form = [(render(str(i.get("key", ""))), render(str(i.get("value", "")))) for i in data]
            return urlencode(form).encode()
        if kind == "binary":
            files = _files(pool, data[0].get("file"))
            if not files:
                raise NodeError(f"cannot fetch file with selector {data[0].get('file')}")
            if not has_type:
                headers["Content-Type"] = files[0].get("mime_type") or "application/octet-stream"
            return self._read(ctx, files[0])
        parts: list[Part] = []
        for item in data:
            name = pool.render(str(item.get("key", "")))
            if item.get("type") == "file":
                for file in _files(pool, item.get("file")):
                    filename = str(file.get("filename") or "file")
                    mime = file.get("mime_type") or "application/octet-stream"
                    parts.append((name, filename, self._read(ctx, file), mime))
            else:
                parts.append((name, None, pool.render(str(item.get("value", ""))).encode(), None))
        boundary = uuid.uuid4().hex
        for key in [k for k in headers if k.lower() == "content-type"]:
            del headers[key]
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        return _multipart(parts, boundary)

    def _read(self, ctx: RunContext, file: Mapping[str, Any]) -> bytes:
        reader: FileReader = self.port(ctx, "file_reader")
        try:
            return reader.read(file)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"cannot read file {file.get('filename')}: {exc}") from exc

    def _outputs(self, url: str, response: HttpResponse) -> dict[str, Any]:
        headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        content = response.content
        content_type = response.content_type or headers.get("content-type", "")
        disposition = Message()
        disposition["content-disposition"] = headers.get("content-disposition", "")
        filename = disposition.get_filename() if headers.get("content-disposition") else None
        attachment = filename is not None or disposition.get_content_disposition() == "attachment"
        is_file = attachment or _is_file(content_type, content)
        limit = MAX_BINARY_SIZE if is_file else MAX_TEXT_SIZE
        if len(content) > limit:
            raise NodeError(
                f"{'File' if is_file else 'Text'} size is too large, max size is"
                f" {limit / 1024 / 1024:.2f} MB, but current size is"
                f" {len(content) / 1024 / 1024:.2f} MB."
            )
        files = []
        if is_file:
            filename = filename or url.split("?")[0].rstrip("/").split("/")[-1]
            files.append(_file_output(filename, content_type, content, guess=attachment))
        body = "" if is_file else _decode(content, content_type)
        return {
            "status_code": response.status_code,
            "body": body,
            "headers": headers,
            "files": files,
        }

    def _log(
        self, url: str, params: list[tuple[str, str]], headers: dict[str, str], secret: str | None
    ) -> str:
        query = f"?{urlencode(params)}" if params else ""
        lines = [f"{self.method} {url}{query} HTTP/1.1"]
        for key, value in headers.items():
            lines.append(f"{key}: {'*' * len(value) if key == secret else value}")
        return "\r\n".join(lines) + "\r\n"


def _json_body(pool: VariablePool, template: str) -> Any:
    """Dify renders the template then parses it; when a string value breaks the JSON (quotes,
    newlines) we retry with the values JSON-escaped, so ``"q": "{{#start.q#}}"`` always works."""
    text = pool.render(template)
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass

    def escaped(match: Any) -> str:
        value = to_text(pool.get_or(match.group(1).split(".")))
        return json.dumps(value, ensure_ascii=False)[1:-1]

    try:
        return json.loads(TEMPLATE_PATTERN.sub(escaped, template), strict=False)
    except json.JSONDecodeError as exc:
        raise NodeError(f"Failed to parse JSON: {text}") from exc


def _files(pool: VariablePool, selector: Any) -> list[Mapping[str, Any]]:
    if not isinstance(selector, list) or len(selector) < 2:
        return []
    value = pool.get_or(selector)
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def _multipart(parts: list[Part], boundary: str) -> bytes:
    def quoted(value: str) -> str:
        return value.replace('"', "%22").replace("\r", "").replace("\n", "")

    out = bytearray()
    for name, filename, content, content_type in parts:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"'
        if filename is not None:
            head += f'; filename="{quoted(filename)}"\r\nContent-Type: {content_type}'
        out += f"{head}\r\n\r\n".encode() + content + b"\r\n"
    return bytes(out + f"--{boundary}--\r\n".encode())


def _is_timeout(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", None)
    return (
        isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError) or "timed out" in str(exc)
    )


def _is_file(content_type: str, content: bytes) -> bool:
    """Dify's rule (after the attachment check): text/* but csv, and JSON/XML/... are text."""
    mime = content_type.split(";")[0].strip().lower()
    if mime.startswith("text/") and "csv" not in mime:
        return False
    if mime.startswith("application/"):
        if any(kind in mime for kind in _TEXT_APPLICATION):
            return False
        try:
            sample = content[:1024]
            sample.decode("utf-8")
            if any(marker in sample for marker in _TEXT_MARKERS):
                return False
        except UnicodeDecodeError:
            pass
    return mime.split("/")[0] in ("application", "image", "audio", "video")


def _decode(content: bytes, content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type or "text/plain"
    charset = message.get_content_charset() or "utf-8"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _file_output(filename: str, content_type: str, content: bytes, guess: bool) -> dict[str, Any]:
    """A Dify file dict; the bytes ride along as ``content_base64``."""
    mime = (
        (mimetypes.guess_type(filename)[0] if guess else None)
        or content_type.split(";")[0].strip()
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream"
    )
    suffix = "." + filename.rsplit(".", 1)[-1] if "." in filename else ""
    extension = suffix or mimetypes.guess_extension(mime) or ""
    main = mime.split("/")[0]
    kind = "document" if "text" in mime or "pdf" in mime else "custom"
    return {
        "dify_model_identity": "__dify__file__",
        "type": main if main in ("image", "audio", "video") else kind,
        "transfer_method": "tool_file",
        "filename": filename or f"file{extension}",
        "extension": extension,
        "mime_type": mime,
        "size": len(content),
        "content_base64": base64.b64encode(content).decode("ascii"),
    }
