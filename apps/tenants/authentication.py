"""DRF authentication: ``Authorization: Bearer app-…|dataset-…`` for the Service API.

Console endpoints use Django sessions (DRF's SessionAuthentication) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.tenants.models import ApiKey, Workspace
from apps.tenants.services import api_key_authenticate

if TYPE_CHECKING:
    from apps.workflows.models import App


@dataclass(frozen=True)
class ServicePrincipal:
    """``request.user`` on Service API calls: the key's workspace (and app)."""

    api_key: ApiKey
    workspace: Workspace
    app: App | None

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None


class _BearerKeyAuthentication(BaseAuthentication):
    key_type: str = ""

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.NotAuthenticated(
                "Authorization header must be provided and start with 'Bearer'"
            )
        api_key = api_key_authenticate(raw.strip())
        if api_key is None or api_key.type != self.key_type:
            raise exceptions.AuthenticationFailed("Access token is invalid")
        if api_key.workspace.status != Workspace.Status.NORMAL:
            raise exceptions.PermissionDenied("The workspace is archived.")
        return ServicePrincipal(api_key=api_key, workspace=api_key.workspace, app=api_key.app), (
            api_key
        )

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AppKeyAuthentication(_BearerKeyAuthentication):
    key_type = ApiKey.KeyType.APP

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, ApiKey] | None:
        result = super().authenticate(request)
        assert result is not None
        app = result[0].app
        if app is None or not app.enable_api:
            raise exceptions.PermissionDenied("The app's API service has been disabled.")
        return result


class DatasetKeyAuthentication(_BearerKeyAuthentication):
    key_type = ApiKey.KeyType.DATASET


def principal_of(request: Any) -> ServicePrincipal:
    principal = request.user
    if not isinstance(principal, ServicePrincipal):
        raise exceptions.NotAuthenticated("Service API key required")
    return principal
