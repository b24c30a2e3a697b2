"""Bearer-key authentication on the Service API (``GET /v1/info``)."""

import pytest
from rest_framework.test import APIClient

from apps.tenants.models import Workspace
from tests.factories import (
    app_key,
    assert_dify_error,
    dataset_key,
    make_app,
    make_user,
    make_workspace,
    service,
)

pytestmark = pytest.mark.django_db


def test_app_key_reads_its_app_info():
    owner = make_user("author@example.com")
    workspace = make_workspace(owner=owner)
    app = make_app(
        workspace, mode="advanced-chat", name="Helper", description="Answers", created_by=owner
    )
    response = service(app_key(app)).get("/v1/info")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Helper",
        "description": "Answers",
        "tags": [],
        "mode": "advanced-chat",
        "author_name": "author@example.com",
    }


def test_missing_or_malformed_header_is_401():
    assert_dify_error(APIClient().get("/v1/info"), 401, "unauthorized")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic abc")
    assert_dify_error(client.get("/v1/info"), 401, "unauthorized")
    client.credentials(HTTP_AUTHORIZATION="Bearer ")
    assert_dify_error(client.get("/v1/info"), 401, "unauthorized")


def test_unknown_key_is_401():
    body = assert_dify_error(service("app-" + "x" * 24).get("/v1/info"), 401, "unauthorized")
    assert body["message"] == "Access token is invalid"


def test_dataset_key_cannot_call_app_endpoints():
    workspace = make_workspace()
    make_app(workspace)
    assert_dify_error(service(dataset_key(workspace)).get("/v1/info"), 401, "unauthorized")


def test_disabled_api_is_403():
    app = make_app(make_workspace(), enable_api=False)
    assert_dify_error(service(app_key(app)).get("/v1/info"), 403, "forbidden")


def test_archived_workspace_key_is_403():
    workspace = make_workspace()
    key = app_key(make_app(workspace))
    Workspace.objects.filter(pk=workspace.pk).update(status="archive")
    assert_dify_error(service(key).get("/v1/info"), 403, "forbidden")


def test_deleted_app_key_stops_working():
    app = make_app(make_workspace())
    key = app_key(app)
    app.delete()
    assert_dify_error(service(key).get("/v1/info"), 401, "unauthorized")


def test_unknown_service_path_is_json_404():
    response = service("app-x").get("/v1/does-not-exist")
    assert_dify_error(response, 404, "not_found")
