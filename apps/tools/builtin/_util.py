"""Small helpers the built-in tools share (HTTP through the guarded port, JSON output)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from apps.tools.base import ToolContext, ToolError
from apps.workflows.engine.ports import HttpResponse


def http_request(
    ctx: ToolContext,
    method: str,
    url: str,
    *,
    what: str,
    headers: Mapping[str, str] | None = None,
    params: Sequence[tuple[str, str]] | None = None,
    json_body: Any = None,
    timeout: float | None = None,
) -> HttpResponse:
    """One request through the context's guarded HTTP client; any failure to get an answer
    (refused address, DNS, timeout, too large) becomes a ToolError naming ``what``."""
    client = ctx.require_http()
    sent = dict(headers or {})
    content = None
    if json_body is not None:
        content = json.dumps(json_body).encode()
        sent.setdefault("Content-Type", "application/json")
    try:
        return client.request(
            method, url, headers=sent, params=params, content=content, timeout=timeout
        )
    except ToolError:
        raise
    except Exception as exc:  # the port's errors vary by adapter; all mean "no answer"
        raise ToolError(f"{what}: {exc or type(exc).__name__}") from exc


def dumps(value: Any, *, ensure_ascii: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii)


def as_json_items(value: Any) -> list[dict[str, Any]]:
    """A tool's ``json`` output: a dict as is, anything else wrapped as ``{"result": ...}``."""
    return [value] if isinstance(value, dict) else [{"result": value}]
