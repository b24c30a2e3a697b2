"""GET /v1/end-users/{id} and Dify's DEFAULT-USER for calls that leave out an optional user."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.workflows.models import Conversation, EndUser, UploadFile
from apps.workflows.web.auth import web_token_mint
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service

pytestmark = pytest.mark.django_db


def test_end_user_detail_has_difys_fields():
    app = make_app(make_workspace())
    end_user = EndUser.objects.create(workspace=app.workspace, app=app, session_id="alice")
    body = service(app_key(app)).get(f"/v1/end-users/{end_user.pk}").json()
    assert body["id"] == str(end_user.pk)
    assert body["app_id"] == str(app.pk) and body["tenant_id"] == str(app.workspace_id)
    assert body["session_id"] == "alice" and body["type"] == "service_api"
    assert body["is_anonymous"] is False
    assert body["created_at"].startswith(str(end_user.created_at.year))
    assert set(body) >= {"external_user_id", "name", "updated_at"}


def test_end_user_of_another_app_or_workspace_is_not_found():
    workspace = make_workspace()
    app, sibling = make_app(workspace), make_app(workspace)
    foreign_app = make_app(make_workspace())
    theirs = EndUser.objects.create(workspace=workspace, app=sibling, session_id="bob")
    foreign = EndUser.objects.create(
        workspace=foreign_app.workspace, app=foreign_app, session_id="carol"
    )
    client = service(app_key(app))
    for end_user in (theirs, foreign):
        assert_dify_error(client.get(f"/v1/end-users/{end_user.pk}"), 404, "end_user_not_found")


@pytest.mark.parametrize("end_user_id", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_end_user_is_not_found(end_user_id):
    app = make_app(make_workspace())
    response = service(app_key(app)).get(f"/v1/end-users/{end_user_id}")
    assert_dify_error(response, 404, "end_user_not_found")


def test_end_user_endpoint_refuses_bad_keys_and_disabled_apps():
    app = make_app(make_workspace())
    end_user = EndUser.objects.create(workspace=app.workspace, app=app, session_id="alice")
    path = f"/v1/end-users/{end_user.pk}"
    assert_dify_error(APIClient().get(path), 401, "unauthorized")
    assert_dify_error(service("app-wrong").get(path), 401, "unauthorized")
    key = app_key(app)
    app.enable_api = False
    app.save()
    assert_dify_error(service(key).get(path), 403, "forbidden")


def test_calls_without_optional_user_act_for_default_user(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    app = make_app(make_workspace())
    client = service(app_key(app))
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    response = client.post("/v1/files/upload", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    stored = UploadFile.objects.get(pk=response.json()["id"])
    assert stored.end_user is not None and stored.end_user.session_id == "DEFAULT-USER"
    detail = client.get(f"/v1/end-users/{stored.end_user_id}").json()
    assert detail["is_anonymous"] is True
    Conversation.objects.create(workspace=app.workspace, app=app, end_user=stored.end_user)
    listed = client.get("/v1/conversations").json()
    assert len(listed["data"]) == 1
    assert client.get("/v1/conversations", {"user": "someone"}).json()["data"] == []


def test_required_user_is_still_required():
    app = make_app(make_workspace())
    client = service(app_key(app))
    body = {"query": "hi", "inputs": {}}
    assert_dify_error(client.post("/v1/chat-messages", body, format="json"), 400, "invalid_param")
    response = client.post("/v1/chat-messages/some-task/stop", {}, format="json")
    assert_dify_error(response, 400, "invalid_param")
    response = client.get(f"/v1/messages/{uuid.uuid4()}/suggested")
    assert_dify_error(response, 400, "invalid_param")


def test_a_page_token_without_user_never_reaches_the_default_user():
    app = make_app(make_workspace(), enable_site=True)
    default = EndUser.objects.create(workspace=app.workspace, app=app, session_id="DEFAULT-USER")
    Conversation.objects.create(workspace=app.workspace, app=app, end_user=default)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {web_token_mint(app=app, user='web-me')}")
    assert client.get("/v1/conversations").json()["data"] == []
