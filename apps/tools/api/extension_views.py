"""Console API of API-based extensions, at Dify's paths: ``api-based-extension`` (GET list,
POST create) and ``api-based-extension/<id>`` (GET, POST update, DELETE)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam
from apps.tenants.api.base import ConsoleAPIView
from apps.tools import api_extensions as extensions
from apps.tools.api.views import MANAGE
from apps.tools.models import ApiBasedExtension

TAG = ["API extensions"]


def _fields(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidParam("the body must be a JSON object")
    unknown = set(request.data) - {"name", "api_endpoint", "api_key"}
    if unknown:
        raise InvalidParam(f"unknown field(s): {', '.join(sorted(unknown))}")
    return dict(request.data)


class ApiExtensionListView(ConsoleAPIView):
    required_permission = MANAGE

    @extend_schema(
        tags=TAG, responses={200: OpenApiTypes.OBJECT}, operation_id="api_extensions_list"
    )
    def get(self, request: Request) -> Response:
        found = ApiBasedExtension.objects.for_workspace(self.workspace).order_by("name")
        return Response([extensions.api_extension_payload(e) for e in found])

    @extend_schema(
        tags=TAG, request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT},
        operation_id="api_extensions_create",
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        body = _fields(request)
        created = extensions.api_extension_create(
            workspace=self.workspace, name=body.get("name"),
            api_endpoint=body.get("api_endpoint"), api_key=body.get("api_key"),
        )  # fmt: skip
        return Response(extensions.api_extension_payload(created), status=status.HTTP_201_CREATED)


class ApiExtensionDetailView(ConsoleAPIView):
    required_permission = MANAGE

    def _get(self, extension_id: str) -> ApiBasedExtension:
        return extensions.api_extension_get(workspace=self.workspace, extension_id=extension_id)

    @extend_schema(
        tags=TAG, responses={200: OpenApiTypes.OBJECT}, operation_id="api_extensions_retrieve"
    )
    def get(self, request: Request, extension_id: str) -> Response:
        return Response(extensions.api_extension_payload(self._get(extension_id)))

    @extend_schema(
        tags=TAG, request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT},
        operation_id="api_extensions_update",
    )  # fmt: skip
    def post(self, request: Request, extension_id: str) -> Response:
        extension, body = self._get(extension_id), _fields(request)
        updated = extensions.api_extension_update(extension=extension, **body)
        return Response(extensions.api_extension_payload(updated))

    @extend_schema(tags=TAG, responses={204: None})
    def delete(self, request: Request, extension_id: str) -> Response:
        extensions.api_extension_delete(extension=self._get(extension_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
