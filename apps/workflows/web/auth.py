"""Short-lived signed tokens for the end-user web page (Dify's web "passport").

The page view mints ``web-<signed {app id, end-user id}>`` for the visitor; the page's
JavaScript sends it as ``Authorization: Bearer web-…`` to the Service API. A token is good
for its own app only, for ``WEB_TOKEN_MAX_AGE`` seconds (default 2 hours), while the app's
site is enabled, and only for the end user it names (a different ``user`` is refused).
Real ``app-`` keys never reach browsers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.tenants.authentication import ServicePrincipal
from apps.tenants.models import Workspace
from apps.workflows.models import App

WEB_TOKEN_PREFIX = "web-"
_SALT = "apps.workflows.web.passport"


@dataclass(frozen=True)
class WebPassport:
    app_id: str
    user: str


@dataclass(frozen=True)
class WebPrincipal(ServicePrincipal):
    """``request.user`` for web-token calls: like an app key's, with no ApiKey row."""

    web_user: str = ""


def web_token_max_age() -> int:
    return int(getattr(settings, "WEB_TOKEN_MAX_AGE", 7200))


def web_user_new() -> str:
    return "web-" + secrets.token_hex(12)


def web_token_mint(*, app: App, user: str) -> str:
    return WEB_TOKEN_PREFIX + signing.dumps({"a": str(app.pk), "u": user}, salt=_SALT)


def web_token_read(token: str) -> WebPassport | None:
    """The token's app and user; None when it is not a valid, unexpired web token."""
    if not token.startswith(WEB_TOKEN_PREFIX):
        return None
    try:
        data = signing.loads(
            token[len(WEB_TOKEN_PREFIX) :], salt=_SALT, max_age=web_token_max_age()
        )
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not data.get("a") or not data.get("u"):
        return None
    return WebPassport(app_id=str(data["a"]), user=str(data["u"]))


def web_principal(token: str) -> WebPrincipal | None:
    """The principal of a valid web token whose app's site is enabled (else None)."""
    passport = web_token_read(token)
    if passport is None:
        return None
    app = App.objects.select_related("workspace").filter(pk=passport.app_id).first()
    if app is None or not app.enable_site:
        return None
    if app.workspace.status != Workspace.Status.NORMAL:
        return None
    return WebPrincipal(
        api_key=None,  # type: ignore[arg-type]
        workspace=app.workspace,
        app=app,
        web_user=passport.user,
    )


def _request_user(request: Request) -> Any:
    value: Any = None
    data = request.data
    if hasattr(data, "get"):
        value = data.get("user")
    if value in (None, ""):
        value = request.query_params.get("user")
    return value


class WebTokenAuthentication(BaseAuthentication):
    """Accepts ``Bearer web-…`` tokens; leaves any other bearer to the next authenticator.

    List it before ``AppKeyAuthentication``. The request's ``user`` must be the token's.
    """

    def authenticate(self, request: Request) -> tuple[WebPrincipal, str] | None:
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        token = raw.strip()
        if scheme.lower() != "bearer" or not token.startswith(WEB_TOKEN_PREFIX):
            return None
        principal = web_principal(token)
        if principal is None:
            raise exceptions.AuthenticationFailed("Access token is invalid or expired")
        user = _request_user(request)
        if user not in (None, "") and user != principal.web_user:
            raise exceptions.PermissionDenied("The token does not belong to this user.")
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
