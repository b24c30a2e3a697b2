from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.base import ConsoleAPIView
from apps.tenants.authentication import AppKeyAuthentication, principal_of
from apps.tenants.roles import Permission
from apps.workflows import selectors, services
from apps.workflows.api.serializers import AppCreateSerializer, AppInfoSerializer, AppSerializer


class ConsoleAppListView(ConsoleAPIView):
    required_permission = {"GET": Permission.USE_APPS, "POST": Permission.EDIT_APPS}

    @extend_schema(responses=AppSerializer(many=True))
    def get(self, request: Request) -> Response:
        apps = selectors.apps_list(workspace=self.workspace)
        return Response({"data": AppSerializer(apps, many=True).data})

    @extend_schema(request=AppCreateSerializer, responses={201: AppSerializer})
    def post(self, request: Request) -> Response:
        body = AppCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        app = services.app_create(
            workspace=self.workspace, created_by=self.user, **body.validated_data
        )
        return Response(AppSerializer(app).data, status=status.HTTP_201_CREATED)


class ServiceAppInfoView(APIView):
    """``GET /v1/info``: the app behind the key (Dify's AppInfoResponse)."""

    authentication_classes = [AppKeyAuthentication]
    permission_classes: list[type] = []

    @extend_schema(
        tags=["Applications"], summary="The app behind the key", responses=AppInfoSerializer
    )
    def get(self, request: Request) -> Response:
        app = principal_of(request).app
        assert app is not None
        author = app.created_by.email if app.created_by else ""
        return Response(
            {
                "name": app.name,
                "description": app.description,
                "tags": [],
                "mode": app.mode,
                "author_name": author,
            }
        )
