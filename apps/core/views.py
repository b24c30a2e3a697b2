from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from apps.core.exception_handler import error_body

logger = logging.getLogger(__name__)


def health(request: HttpRequest) -> JsonResponse:
    """Liveness + database readiness, like Dify's /health (status "ok")."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - any database failure makes us unready
        logger.error("health check: database unavailable: %s", exc)
        database = "unavailable"
    ok = database == "ok"
    return JsonResponse(
        {"status": "ok" if ok else "error", "version": settings.VERSION, "database": database},
        status=200 if ok else 503,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("not_found", "The requested URL was not found.", 404), status=404
    )


def server_error(request: HttpRequest) -> JsonResponse:
    body = error_body("internal_server_error", "The server encountered an internal error.", 500)
    return JsonResponse(body, status=500)
