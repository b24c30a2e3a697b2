"""Console API of tools (session auth + ``X-Workspace-Id``; browsable through DRF).

Paths follow Dify's console where it has one (``workspaces/current/tool-providers``,
``tool-provider/builtin/<provider>/…``); the custom, workflow and MCP providers are REST
resources under ``workspaces/current/tool-provider/<type>``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import InvalidParam
from apps.tenants.api.base import ConsoleAPIView, ConsoleViewSet
from apps.tenants.roles import Permission
from apps.tools import payloads, selectors, services
from apps.tools.api import serializers as s
from apps.tools.base import ToolError
from apps.tools.builtin import builtin_providers
from apps.tools.invoker import WorkspaceToolInvoker
from apps.tools.models import ApiToolProvider, McpToolProvider, WorkflowToolProvider

TAG = ["Tools"]
OBJ = {200: OpenApiTypes.OBJECT}
LIST = {200: {"type": "array", "items": {"type": "object"}}}
MANAGE = {
    "GET": Permission.USE_APPS,
    "POST": Permission.MANAGE_PROVIDERS,
    "PUT": Permission.MANAGE_PROVIDERS,
    "PATCH": Permission.MANAGE_PROVIDERS,
    "DELETE": Permission.MANAGE_PROVIDERS,
}
EDIT = {
    "GET": Permission.USE_APPS,
    "POST": Permission.EDIT_APPS,
    "PUT": Permission.EDIT_APPS,
    "PATCH": Permission.EDIT_APPS,
    "DELETE": Permission.EDIT_APPS,
}


def _body(serializer: type[Any], request: Request, *, partial: bool = False) -> dict[str, Any]:
    body = serializer(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


class ToolProviderListView(ConsoleAPIView):
    """``GET /workspaces/current/tool-providers``: every provider with its tools (Dify's)."""

    @extend_schema(
        tags=TAG,
        parameters=[
            OpenApiParameter("type", str, enum=["builtin", "api", "workflow", "mcp"]),
        ],
        responses=LIST,
    )
    def get(self, request: Request) -> Response:
        kind = request.query_params.get("type") or None
        if kind and kind not in selectors.PROVIDER_TYPES:
            raise InvalidParam("type: one of builtin, api, workflow, mcp")
        return Response(selectors.tool_providers_list(workspace=self.workspace, provider_type=kind))


class BuiltinProviderViewSet(ConsoleViewSet):
    """Built-in providers and their workspace credentials."""

    required_permission = MANAGE
    lookup_field = "provider"
    lookup_value_regex = "[A-Za-z0-9_.-]+"
    serializer_class = s.BuiltinCredentialsSerializer

    def _payload(self, name: str) -> dict[str, Any]:
        provider = selectors.builtin_provider_get(name)
        credential = selectors.builtin_credential_get(
            workspace=self.workspace, provider_name=provider.declaration.name
        )
        return payloads.builtin_provider_payload(provider, credential)

    @extend_schema(tags=TAG, responses=LIST)
    def list(self, request: Request) -> Response:
        return Response([self._payload(p.declaration.name) for p in builtin_providers])

    @extend_schema(tags=TAG, responses=OBJ)
    def retrieve(self, request: Request, provider: str) -> Response:
        return Response(self._payload(provider))

    @extend_schema(tags=TAG, responses=LIST)
    @action(detail=True, methods=["get"])
    def tools(self, request: Request, provider: str) -> Response:
        return Response(self._payload(provider)["tools"])

    @extend_schema(tags=TAG, request=s.BuiltinCredentialsSerializer, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="credentials")
    def credentials(self, request: Request, provider: str) -> Response:
        return self._set_credentials(request, provider)

    def _set_credentials(self, request: Request, provider: str) -> Response:
        body = _body(s.BuiltinCredentialsSerializer, request)
        services.builtin_credentials_set(
            workspace=self.workspace,
            provider_name=provider,
            credentials=body["credentials"],
            validate=body["validate"],
        )
        return Response({"result": "success", **self._payload(provider)})

    @extend_schema(tags=TAG, request=None, responses={204: None})
    @credentials.mapping.delete
    def credentials_delete(self, request: Request, provider: str) -> Response:
        services.builtin_credentials_delete(workspace=self.workspace, provider_name=provider)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(tags=TAG, request=s.BuiltinCredentialsSerializer, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="update")
    def dify_update(self, request: Request, provider: str) -> Response:
        """Dify's spelling of ``POST …/credentials``."""
        return self._set_credentials(request, provider)

    @extend_schema(tags=TAG, request=None, responses=OBJ)
    @action(detail=True, methods=["post"], url_path="delete")
    def dify_delete(self, request: Request, provider: str) -> Response:
        """Dify's spelling of ``DELETE …/credentials``."""
        services.builtin_credentials_delete(workspace=self.workspace, provider_name=provider)
        return Response({"result": "success"})


class ApiProviderViewSet(ConsoleViewSet):
    """Custom tools from OpenAPI / Swagger documents."""

    required_permission = MANAGE
    queryset = ApiToolProvider.objects.none()  # path types for the schema; reads use selectors
    serializer_class = s.ApiProviderSerializer

    def _get(self, pk: str) -> Any:
        return selectors.api_tool_provider_get(workspace=self.workspace, provider_id=pk)

    @extend_schema(tags=TAG, responses=LIST)
    def list(self, request: Request) -> Response:
        data = selectors.tool_providers_list(workspace=self.workspace, provider_type="api")
        return Response(data)

    @extend_schema(tags=TAG, request=s.ApiProviderSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request) -> Response:
        body = _body(s.ApiProviderSerializer, request)
        provider = services.api_tool_provider_create(
            workspace=self.workspace, created_by=self.user, **body
        )
        return Response(payloads.api_provider_detail(provider), status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAG, responses=OBJ)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(payloads.api_provider_detail(self._get(pk)))

    @extend_schema(tags=TAG, request=s.ApiProviderSerializer, responses=OBJ)
    def partial_update(self, request: Request, pk: str) -> Response:
        provider = self._get(pk)
        body = _body(s.ApiProviderSerializer, request, partial=True)
        provider = services.api_tool_provider_update(provider=provider, **body)
        return Response(payloads.api_provider_detail(provider))

    @extend_schema(tags=TAG, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.api_tool_provider_delete(provider=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(tags=TAG, request=s.ApiSchemaSerializer, responses=OBJ)
    @action(detail=False, methods=["post"], url_path="schema")
    def parse_schema(self, request: Request) -> Response:
        """Parse a document without saving it: Dify's ``tool-provider/api/schema`` preview."""
        body = _body(s.ApiSchemaSerializer, request)
        spec = services.api_schema_parse(
            schema=body["schema"], schema_type=body.get("schema_type") or None
        )
        return Response(
            {
                "schema_type": spec.schema_type,
                "server_url": spec.server_url,
                "parameters_schema": [o.to_dify() for o in spec.operations],
                "credentials_schema": _API_CREDENTIALS_SCHEMA,
                "warning": {},
            }
        )

    @extend_schema(tags=TAG, request=s.ApiToolTestSerializer, responses=OBJ)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Run one of the provider's tools with the given parameters (a real request)."""
        provider = self._get(pk)
        body = _body(s.ApiToolTestSerializer, request)
        invoker = WorkspaceToolInvoker(self.workspace)
        try:
            result = invoker.invoke(
                provider_type="api", provider_id=str(provider.pk), tool_name=body["tool_name"],
                parameters=body["parameters"], user_id=str(self.user.pk),
            )  # fmt: skip
        except ToolError as exc:
            return Response({"error": str(exc)})
        return Response({"result": result.text, "json": result.json})


_API_CREDENTIALS_SCHEMA = [
    {"name": "auth_type", "type": "select", "required": True, "default": "none",
     "options": ["none", "api_key_header", "api_key_query"]},
    {"name": "api_key_header", "type": "text-input", "required": False,
     "default": "Authorization"},
    {"name": "api_key_value", "type": "secret-input", "required": False},
    {"name": "api_key_header_prefix", "type": "select", "required": False, "default": "custom",
     "options": ["basic", "bearer", "custom"]},
    {"name": "api_key_query_param", "type": "text-input", "required": False, "default": "key"},
]  # fmt: skip


class WorkflowToolViewSet(ConsoleViewSet):
    """Published workflow apps exposed as tools."""

    required_permission = EDIT
    queryset = WorkflowToolProvider.objects.none()  # path types for the schema; reads use selectors
    serializer_class = s.WorkflowToolSerializer

    def _get(self, pk: str) -> Any:
        return selectors.workflow_tool_provider_get(workspace=self.workspace, provider_id=pk)

    @extend_schema(tags=TAG, responses=LIST)
    def list(self, request: Request) -> Response:
        data = selectors.tool_providers_list(workspace=self.workspace, provider_type="workflow")
        return Response(data)

    @extend_schema(tags=TAG, request=s.WorkflowToolSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request) -> Response:
        body = _body(s.WorkflowToolSerializer, request)
        provider = services.workflow_tool_provider_create(
            workspace=self.workspace,
            app_id=body.pop("workflow_app_id"),
            created_by=self.user,
            **body,
        )
        return Response(
            payloads.workflow_provider_payload(provider), status=status.HTTP_201_CREATED
        )

    @extend_schema(tags=TAG, responses=OBJ)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(payloads.workflow_provider_payload(self._get(pk)))

    @extend_schema(tags=TAG, request=s.WorkflowToolSerializer, responses=OBJ)
    def partial_update(self, request: Request, pk: str) -> Response:
        provider = self._get(pk)
        body = _body(s.WorkflowToolSerializer, request, partial=True)
        if body.pop("workflow_app_id", None) not in (None, provider.app_id):
            raise InvalidParam("workflow_app_id: a workflow tool stays bound to its app")
        provider = services.workflow_tool_provider_update(provider=provider, **body)
        return Response(payloads.workflow_provider_payload(provider))

    @extend_schema(tags=TAG, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.workflow_tool_provider_delete(provider=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class McpProviderViewSet(ConsoleViewSet):
    """MCP servers; their tools are listed on create, on change and on ``refresh``."""

    required_permission = MANAGE
    queryset = McpToolProvider.objects.none()  # path types for the schema; reads use selectors
    serializer_class = s.McpProviderSerializer

    def _get(self, pk: str) -> Any:
        return selectors.mcp_provider_get(workspace=self.workspace, provider_id=pk)

    @extend_schema(tags=TAG, responses=LIST)
    def list(self, request: Request) -> Response:
        data = selectors.tool_providers_list(workspace=self.workspace, provider_type="mcp")
        return Response(data)

    @extend_schema(tags=TAG, request=s.McpProviderSerializer, responses={201: OpenApiTypes.OBJECT})
    def create(self, request: Request) -> Response:
        body = _body(s.McpProviderSerializer, request)
        provider = services.mcp_provider_create(
            workspace=self.workspace, created_by=self.user, **body
        )
        return Response(payloads.mcp_provider_payload(provider), status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAG, responses=OBJ)
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(payloads.mcp_provider_payload(self._get(pk)))

    @extend_schema(tags=TAG, request=s.McpProviderSerializer, responses=OBJ)
    def partial_update(self, request: Request, pk: str) -> Response:
        provider = self._get(pk)
        body = _body(s.McpProviderSerializer, request, partial=True)
        provider = services.mcp_provider_update(provider=provider, **body)
        return Response(payloads.mcp_provider_payload(provider))

    @extend_schema(tags=TAG, responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.mcp_provider_delete(provider=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(tags=TAG, request=None, responses=OBJ)
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str) -> Response:
        provider = services.mcp_provider_refresh(provider=self._get(pk))
        return Response(payloads.mcp_provider_payload(provider))
