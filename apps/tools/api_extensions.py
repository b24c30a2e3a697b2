"""API-based extensions (Dify's "API extension"): create, change, delete, and call them.

A call is ``POST <api_endpoint>`` with ``Authorization: Bearer <api_key>`` and the body
``{"point": <extension point>, "params": {...}}``; the endpoint answers a JSON object. Saving
an extension first checks it answers the ``ping`` point with ``{"result": "pong"}`` (as Dify
does). Every call goes through the SSRF guard (``apps/tools/http_guard.py``): an endpoint
on a private network needs ``SSRF_ALLOWED_HOSTS`` / ``SSRF_ALLOWED_NETWORKS``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from apps.core.errors import AppError, InvalidParam, NotFound
from apps.tenants.crypto import decrypt_json, encrypt_json, mask_secret
from apps.tenants.models import Workspace
from apps.tools.http_guard import BlockedRequestError
from apps.tools.models import ApiBasedExtension

POINT_PING = "ping"
POINT_MODERATION_INPUT = "app.moderation.input"
POINT_MODERATION_OUTPUT = "app.moderation.output"
POINT_EXTERNAL_DATA = "app.external_data_tool.query"
CALL_TIMEOUT = 60.0  # seconds, as Dify's requestor's read timeout


class ApiExtensionError(AppError):
    """The extension could not be called or answered something unusable."""

    code, status = "completion_request_error", 400


class ApiExtensionNotFound(NotFound):
    def __init__(self, message: str = "API-based extension not found."):
        super().__init__(message)


@dataclass(frozen=True)
class ApiExtensionClient:
    """One extension's endpoint and key, loaded once: calls need no database."""

    name: str
    api_endpoint: str
    api_key: str

    def call(self, point: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        from apps.tools.outbound import guarded_client

        body: dict[str, Any] = {"point": point}
        if params is not None:
            body["params"] = dict(params)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"}
        try:
            response = guarded_client().request(
                "POST", self.api_endpoint, headers=headers,
                body=json.dumps(body, ensure_ascii=False, default=str).encode(),
                timeout=CALL_TIMEOUT,
            )  # fmt: skip
        except BlockedRequestError as exc:
            raise ApiExtensionError(f"API extension {self.name!r}: {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise ApiExtensionError(f"API extension {self.name!r} is unreachable: {exc}") from exc
        if response.status_code != 200:
            text = response.content[:200].decode("utf-8", "replace")
            raise ApiExtensionError(
                f"API extension {self.name!r} answered HTTP {response.status_code}: {text}"
            )
        try:
            answer = json.loads(response.content)
        except ValueError as exc:
            raise ApiExtensionError(f"API extension {self.name!r} did not answer JSON") from exc
        if not isinstance(answer, dict):
            raise ApiExtensionError(f"API extension {self.name!r} must answer a JSON object")
        return answer

    def ping(self) -> None:
        if self.call(POINT_PING).get("result") != "pong":
            raise InvalidParam(
                f'API extension {self.name!r} must answer the ping point with {{"result": "pong"}}'
            )


def _checked_endpoint(value: Any) -> str:
    endpoint = str(value or "").strip()
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParam("api_endpoint must be an http(s) URL")
    return endpoint


def _checked_name(value: Any) -> str:
    name = str(value or "").strip()
    if not name or len(name) > 255:
        raise InvalidParam("name is required (at most 255 characters)")
    return name


def api_extension_get(*, workspace: Workspace, extension_id: Any) -> ApiBasedExtension:
    try:
        pk = uuid.UUID(str(extension_id))
    except ValueError as exc:
        raise ApiExtensionNotFound() from exc
    found = ApiBasedExtension.objects.for_workspace(workspace).filter(pk=pk).first()
    if found is None:
        raise ApiExtensionNotFound()
    return found


def api_extension_client_for(extension: ApiBasedExtension) -> ApiExtensionClient:
    key = str(decrypt_json(extension.encrypted_api_key).get("api_key") or "")
    return ApiExtensionClient(extension.name, extension.api_endpoint, key)


def api_extension_client(*, workspace: Workspace, extension_id: Any) -> ApiExtensionClient:
    """The extension an app's settings name, ready to call; ``invalid_param`` when the
    workspace has none with that id (another workspace's extension is never used)."""
    try:
        extension = api_extension_get(workspace=workspace, extension_id=extension_id)
    except ApiExtensionNotFound as exc:
        raise InvalidParam(
            f"api_based_extension_id {extension_id!r}: no such API extension in this workspace"
        ) from exc
    return api_extension_client_for(extension)


def _save(extension: ApiBasedExtension, client: ApiExtensionClient, validate: bool) -> None:
    if validate:
        client.ping()
    extension.encrypted_api_key = encrypt_json({"api_key": client.api_key})
    try:
        with transaction.atomic():
            extension.save()
    except IntegrityError as exc:
        raise InvalidParam(f"an API extension named {extension.name!r} exists already") from exc


def api_extension_create(
    *, workspace: Workspace, name: Any, api_endpoint: Any, api_key: Any, validate: bool = True
) -> ApiBasedExtension:
    """Save a new extension after a ``ping`` call (unless ``validate`` is False)."""
    key = str(api_key or "").strip()
    if len(key) < 5:
        raise InvalidParam("api_key must be at least 5 characters")
    extension = ApiBasedExtension(
        workspace=workspace, name=_checked_name(name), api_endpoint=_checked_endpoint(api_endpoint)
    )
    _save(extension, ApiExtensionClient(extension.name, extension.api_endpoint, key), validate)
    return extension


def api_extension_update(
    *,
    extension: ApiBasedExtension,
    name: Any = None,
    api_endpoint: Any = None,
    api_key: Any = None,
    validate: bool = True,
) -> ApiBasedExtension:
    """Change an extension; a blank or still-masked key keeps the stored one."""
    current = api_extension_client_for(extension)
    if name is not None:
        extension.name = _checked_name(name)
    if api_endpoint is not None:
        extension.api_endpoint = _checked_endpoint(api_endpoint)
    key = str(api_key or "").strip()
    if not key or key == mask_secret(current.api_key):
        key = current.api_key
    elif len(key) < 5:
        raise InvalidParam("api_key must be at least 5 characters")
    _save(extension, ApiExtensionClient(extension.name, extension.api_endpoint, key), validate)
    return extension


def api_extension_delete(*, extension: ApiBasedExtension) -> None:
    extension.delete()


def api_extension_payload(extension: ApiBasedExtension) -> dict[str, Any]:
    """Dify's console shape (the key masked)."""
    return {
        "id": str(extension.pk),
        "name": extension.name,
        "api_endpoint": extension.api_endpoint,
        "api_key": mask_secret(api_extension_client_for(extension).api_key),
        "created_at": int(extension.created_at.timestamp()),
    }
