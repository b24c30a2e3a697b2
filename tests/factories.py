"""Small factories for tenant data used across the suites."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.tenants.models import Membership, Workspace
from apps.tenants.roles import Role
from apps.tenants.services import api_key_create
from apps.workflows.models import App

_seq = itertools.count(1)
PASSWORD = "correct-Horse-battery-9"


def make_user(email: str | None = None, **extra: Any) -> Any:
    email = email or f"user{next(_seq)}@example.com"
    return get_user_model().objects.create_user(
        username=email, email=email, password=PASSWORD, **extra
    )


def make_workspace(name: str | None = None, owner: Any = None) -> Workspace:
    workspace = Workspace.objects.create(name=name or f"Workspace {next(_seq)}")
    Membership.objects.create(workspace=workspace, user=owner or make_user(), role=Role.OWNER)
    return workspace


def add_member(workspace: Workspace, role: str, user: Any = None) -> Any:
    user = user or make_user()
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def owner_of(workspace: Workspace) -> Any:
    return Membership.objects.get(workspace=workspace, role=Role.OWNER).user


def make_app(workspace: Workspace, mode: str = "chat", **fields: Any) -> App:
    fields.setdefault("name", f"App {next(_seq)}")
    return App.objects.create(workspace=workspace, mode=mode, **fields)


def app_key(app: App) -> str:
    return api_key_create(workspace=app.workspace, key_type="app", app=app)[1]


def dataset_key(workspace: Workspace) -> str:
    return api_key_create(workspace=workspace, key_type="dataset")[1]


def console(user: Any, workspace: Workspace | None = None) -> APIClient:
    client = APIClient()
    client.force_login(user)
    if workspace is not None:
        client.credentials(HTTP_X_WORKSPACE_ID=str(workspace.pk))
    return client


def service(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def assert_dify_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "status"}, body
    assert body["code"] == code and body["status"] == status and body["message"], body
    return body
