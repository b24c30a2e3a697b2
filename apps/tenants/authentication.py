"""DRF authentication: ``Authorization: Bearer app-…|dataset-…`` for the Service API.

Console endpoints use Django sessions (DRF's SessionAuthentication) instead.

A key's row, workspace and app are cached in the process for ``KEY_CACHE_SECONDS`` (the
lookup is on the path of every Service API call, a streamed answer's first token
included). Saving or deleting a key, an app or a workspace clears the cache of this
process at once and, with Redis, of every other process within milliseconds
(``apps.core.cache_bus``); without a message (Redis down) they see a revoked key, a
disabled or edited app, an archived workspace within ``KEY_CACHE_SECONDS``. Unknown keys
are never cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models.signals import post_delete, post_save
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.core.cache_bus import cache_bus
from apps.core.ttl_cache import ModelSnapshotCache
from apps.tenants import keys
from apps.tenants.models import ApiKey, Workspace
from apps.tenants.services import api_key_authenticate

if TYPE_CHECKING:
    from apps.workflows.models import App


KEY_CACHE_SECONDS = 2.0
_keys: ModelSnapshotCache[ApiKey] = ModelSnapshotCache(KEY_CACHE_SECONDS, max_entries=1024)
cache_bus.register("api-keys", _keys.clear)


def _key_changed(**kwargs: Any) -> None:
    cache_bus.invalidate("api-keys")


for _model in ("tenants.ApiKey", "tenants.Workspace", "workflows.App"):  # lazy senders
    post_save.connect(_key_changed, sender=_model, dispatch_uid=f"key-cache:save:{_model}")
    post_delete.connect(_key_changed, sender=_model, dispatch_uid=f"key-cache:delete:{_model}")


def api_key_lookup(raw_key: str) -> ApiKey | None:
    """``api_key_authenticate`` through the cache; the app's workspace comes with it."""
    if keys.key_type_of(raw_key) is None:
        return None
    cache_bus.ensure_listening()
    cache_key = keys.hash_key(raw_key)
    found = _keys.get_instance(cache_key)
    if found is not None:
        return found
    generation = _keys.generation
    found = api_key_authenticate(raw_key)
    if found is None:
        return None
    app = found.app
    if app is not None and app.workspace_id == found.workspace_id:
        type(app).workspace.field.set_cached_value(app, found.workspace)  # no query later
    _keys.put_instance(cache_key, found, generation)
    return found


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
        api_key = api_key_lookup(raw.strip())
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
