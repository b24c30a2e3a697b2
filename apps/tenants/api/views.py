from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants import selectors, services
from apps.tenants.api.base import ConsoleAPIView
from apps.tenants.api.serializers import (
    ApiKeySerializer,
    MemberInviteSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    WorkspaceMembershipSerializer,
)
from apps.tenants.models import ApiKey
from apps.tenants.roles import Permission
from apps.workflows.selectors import app_get


class WorkspaceListView(APIView):
    authentication_classes = [SessionAuthentication]

    @extend_schema(responses=WorkspaceMembershipSerializer(many=True))
    def get(self, request: Request) -> Response:
        memberships = selectors.workspaces_for_user(request.user).order_by("created_at")
        return Response({"workspaces": WorkspaceMembershipSerializer(memberships, many=True).data})


class CurrentWorkspaceView(ConsoleAPIView):
    @extend_schema(responses=WorkspaceMembershipSerializer)
    def get(self, request: Request) -> Response:
        return Response(WorkspaceMembershipSerializer(self.membership).data)


class MemberListView(ConsoleAPIView):
    required_permission = {"GET": Permission.USE_APPS, "POST": Permission.MANAGE_MEMBERS}

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        members = selectors.members_list(workspace=self.workspace)
        return Response({"accounts": MemberSerializer(members, many=True).data})

    @extend_schema(request=MemberInviteSerializer, responses=MemberSerializer)
    def post(self, request: Request) -> Response:
        body = MemberInviteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.member_add(workspace=self.workspace, **body.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailView(ConsoleAPIView):
    required_permission = Permission.MANAGE_MEMBERS

    @extend_schema(request=MemberRoleSerializer, responses=MemberSerializer)
    def put(self, request: Request, member_id: str) -> Response:
        body = MemberRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.member_set_role(
            workspace=self.workspace, membership_id=member_id, role=body.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, member_id: str) -> Response:
        services.member_remove(workspace=self.workspace, membership_id=member_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _created_key(api_key: ApiKey, raw: str) -> Response:
    data: dict[str, Any] = dict(ApiKeySerializer(api_key).data)
    data["token"] = raw  # the only time the whole key is shown
    return Response(data, status=status.HTTP_201_CREATED)


class DatasetApiKeyListView(ConsoleAPIView):
    required_permission = Permission.EDIT_DATASETS

    @extend_schema(responses=ApiKeySerializer(many=True))
    def get(self, request: Request) -> Response:
        api_keys = selectors.api_keys_list(workspace=self.workspace, key_type="dataset")
        return Response({"data": ApiKeySerializer(api_keys, many=True).data})

    @extend_schema(request=None, responses={201: ApiKeySerializer})
    def post(self, request: Request) -> Response:
        api_key, raw = services.api_key_create(
            workspace=self.workspace, key_type="dataset", created_by=self.user
        )
        return _created_key(api_key, raw)


class AppApiKeyListView(ConsoleAPIView):
    required_permission = Permission.EDIT_APPS

    @extend_schema(responses=ApiKeySerializer(many=True))
    def get(self, request: Request, app_id: str) -> Response:
        app = app_get(workspace=self.workspace, app_id=app_id)
        api_keys = selectors.api_keys_list(workspace=self.workspace).filter(app=app)
        return Response({"data": ApiKeySerializer(api_keys, many=True).data})

    @extend_schema(request=None, responses={201: ApiKeySerializer})
    def post(self, request: Request, app_id: str) -> Response:
        app = app_get(workspace=self.workspace, app_id=app_id)
        api_key, raw = services.api_key_create(
            workspace=self.workspace, key_type="app", app=app, created_by=self.user
        )
        return _created_key(api_key, raw)


class ApiKeyDetailView(ConsoleAPIView):
    required_permission = Permission.USE_APPS

    @extend_schema(responses={204: None})
    def delete(self, request: Request, key_id: str, app_id: str | None = None) -> Response:
        needed = Permission.EDIT_APPS if app_id else Permission.EDIT_DATASETS
        if not self.membership.allows(needed):
            self.permission_denied(request, message=f"your role does not allow {needed.value}")
        if app_id:
            app_get(workspace=self.workspace, app_id=app_id)
        services.api_key_delete(workspace=self.workspace, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
