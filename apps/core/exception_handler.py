"""DRF exception handler producing Dify's error body ``{code, message, status}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from apps.core.errors import AppError

logger = logging.getLogger(__name__)

_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "too_many_requests",
    exceptions.ParseError: "invalid_param",
    exceptions.ValidationError: "invalid_param",
}


def error_body(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status}


def _flatten(detail: Any) -> str:
    """Turn DRF's nested error detail into one readable line naming the fields."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _flatten(value)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def dify_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AppError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), "bad_request")
        if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            status = 401
        else:
            status = exc.status_code
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        return Response(error_body(code, _flatten(exc.detail), status), status, headers=headers)
    request = context.get("request")
    logger.exception(
        "unhandled error on %s %s",
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
    )
    body = error_body("internal_server_error", "The server encountered an internal error.", 500)
    return Response(body, status=500)
