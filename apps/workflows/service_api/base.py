"""Shared pieces of the Service API views: app-key auth, the ``user`` field, end users.

End users are cached per (app, ``user``) for ``END_USER_CACHE_SECONDS``: the row never
changes once created, and deleting one (or its app) clears the cache in every process
(``apps.core.cache_bus``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models.signals import post_delete
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.cache_bus import cache_bus
from apps.core.errors import AppError, InvalidParam
from apps.core.ttl_cache import ModelSnapshotCache
from apps.tenants.authentication import AppKeyAuthentication, principal_of
from apps.workflows.models import App, EndUser

CHAT_MODES = ("chat", "agent-chat", "advanced-chat")
WORKFLOW_MODES = ("workflow",)
RESPONSE_MODES = ("streaming", "blocking")  # ``response_mode``; blocking when left out
END_USER_CACHE_SECONDS = 60.0
# Dify's end user for calls that leave out an optional ``user`` (its session id).
DEFAULT_USER = "DEFAULT-USER"
_end_users: ModelSnapshotCache[EndUser] = ModelSnapshotCache(
    END_USER_CACHE_SECONDS, max_entries=10_000
)


cache_bus.register("end-users", _end_users.clear)


def _end_user_deleted(**kwargs: Any) -> None:
    cache_bus.invalidate("end-users")


post_delete.connect(_end_user_deleted, sender=EndUser, dispatch_uid="end-user-cache")


def end_user_for(app: App, session_id: str) -> EndUser:
    """The end user for ``session_id`` on ``app``, created on first use."""
    key = (app.pk, session_id)
    found = _end_users.get_instance(key)
    if found is None:
        generation = _end_users.generation
        found, _ = EndUser.objects.get_or_create(
            workspace_id=app.workspace_id, app=app, session_id=session_id
        )
        _end_users.put_instance(key, _without_relations(found), generation)
    return found


def _without_relations(end_user: EndUser) -> EndUser:
    """The row alone (the app it was created with stays out of the cache)."""
    fields = EndUser._meta.concrete_fields
    copy = EndUser(**{f.attname: getattr(end_user, f.attname) for f in fields})
    copy._state.adding, copy._state.db = False, end_user._state.db
    return copy


class NotChatApp(AppError):
    code = "not_chat_app"
    status = 400

    def __init__(self, message: str = "Please check if your app mode matches the right API route."):
        super().__init__(message)


class NotWorkflowApp(AppError):
    code = "not_workflow_app"
    status = 400

    def __init__(self, message: str = "Please check if your app mode matches the right API route."):
        super().__init__(message)


class ServiceAPIView(APIView):
    """``Authorization: Bearer app-…``; ``self.app`` is the key's app."""

    authentication_classes = [AppKeyAuthentication]
    permission_classes: list[type] = []

    @property
    def app(self) -> App:
        app = principal_of(self.request).app
        assert app is not None
        return app

    def require_modes(self, modes: tuple[str, ...], error: Callable[[], AppError]) -> None:
        if self.app.mode not in modes:
            raise error()

    def user_value(self, request: Request, *, required: bool = True) -> str:
        """The caller's ``user`` (JSON body, form field or query string). Where Dify makes
        it optional, a call without it acts for the shared ``DEFAULT-USER`` end user."""
        web_user = getattr(principal_of(request), "web_user", "")
        if web_user:  # a chat page's token acts for its own end user only
            return str(web_user)
        value: Any = None
        if isinstance(request.data, dict) or hasattr(request.data, "get"):
            value = request.data.get("user")
        if value in (None, ""):
            value = request.query_params.get("user")
        if value in (None, ""):
            if required:
                raise InvalidParam("user is required")
            return DEFAULT_USER
        if not isinstance(value, str) or len(value) > 255:
            raise InvalidParam("user must be a string of at most 255 characters")
        return value

    def end_user(
        self, request: Request, *, create: bool = True, required: bool = True
    ) -> EndUser | None:
        """The end user for ``user`` on this app (created on first use)."""
        session_id = self.user_value(request, required=required)
        if not create:
            return (
                EndUser.objects.for_workspace(self.app.workspace_id)
                .filter(app=self.app, session_id=session_id)
                .first()
            )
        return end_user_for(self.app, session_id)


def _web_or_app_key() -> list[type]:
    from apps.workflows.web.auth import WebTokenAuthentication

    return [WebTokenAuthentication, AppKeyAuthentication]


# End-user endpoints also accept the chat page's signed token (scoped to its app and user).
WEB_OR_APP_KEY = _web_or_app_key()


def flag_value(value: Any, name: str, default: bool) -> bool:
    """A boolean request field: absent or null is ``default``; anything but a JSON boolean
    is ``invalid_param`` (the string "false" is not false)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidParam(f"{name} must be a boolean")
    return value
