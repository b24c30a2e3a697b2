"""The one application error that crosses layers.

Services raise ``AppError`` (or a subclass) with a Dify error code; the DRF exception
handler turns it into ``{"code", "message", "status"}`` with the given HTTP status.
"""

from __future__ import annotations


class AppError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "status": self.status}


class InvalidParam(AppError):
    code = "invalid_param"
    status = 400


class NotFound(AppError):
    code = "not_found"
    status = 404


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class Unauthorized(AppError):
    code = "unauthorized"
    status = 401


class AppUnavailable(AppError):
    code = "app_unavailable"
    status = 400
