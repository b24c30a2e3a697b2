"""The Service API's real responses match what /api/schema/ documents for them: each JSON
body is validated (jsonschema) against the operation's documented response, so the
documentation cannot drift from the wire format."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from apps.workflows.chat.task import background_wait
from tests.factories import app_key, make_workspace, service
from tests.service_api.chat_support import chat_app
from tests.service_api.workflow_helpers import GREETER_INPUTS, greeter_app

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes "or null"."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_documented(openapi: dict[str, Any], path: str, method: str, response: Any) -> None:
    """``response`` (a test-client response) has a documented status and its body fits the
    documented schema; every documented field of a response object is there."""
    documented = openapi["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, (path, method, status, sorted(documented))
    content = documented[status].get("content", {})
    body = response.json()
    schema = content["application/json"]["schema"]
    root = {"components": _json_schema(copy.deepcopy(openapi["components"])), **schema}
    jsonschema.validate(body, root)


def _on_errors(openapi: dict[str, Any], path: str, method: str, response: Any) -> None:
    assert_documented(openapi, path, method, response)
    assert response.status_code >= 400


@pytest.mark.django_db(transaction=True)
def test_chat_responses_match_the_schema(openapi, fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    client = service(app_key(app))

    sent = client.post(
        "/v1/chat-messages",
        {"query": "hi", "inputs": {"name": "Ada"}, "user": "u-1", "response_mode": "blocking"},
        format="json",
    )
    assert sent.status_code == 200
    assert_documented(openapi, "/v1/chat-messages", "post", sent)
    background_wait()
    message_id, conversation_id = sent.json()["message_id"], sent.json()["conversation_id"]

    checks = [
        ("/v1/messages", "get", client.get("/v1/messages", {"user": "u-1",
                                                             "conversation_id": conversation_id})),
        ("/v1/conversations", "get", client.get("/v1/conversations", {"user": "u-1"})),
        ("/v1/messages/{message_id}/feedbacks", "post", client.post(
            f"/v1/messages/{message_id}/feedbacks", {"rating": "like", "user": "u-1"},
            format="json")),
        ("/v1/app/feedbacks", "get", client.get("/v1/app/feedbacks")),
        ("/v1/messages/{message_id}/suggested", "get", client.get(
            f"/v1/messages/{message_id}/suggested", {"user": "u-1"})),
        ("/v1/conversations/{conversation_id}/name", "post", client.post(
            f"/v1/conversations/{conversation_id}/name", {"name": "Trip", "user": "u-1"},
            format="json")),
        ("/v1/conversations/{conversation_id}/variables", "get", client.get(
            f"/v1/conversations/{conversation_id}/variables", {"user": "u-1"})),
        ("/v1/info", "get", client.get("/v1/info")),
        ("/v1/meta", "get", client.get("/v1/meta")),
        ("/v1/site", "get", client.get("/v1/site")),
        ("/v1/parameters", "get", client.get("/v1/parameters")),
        ("/v1/chat-messages/{task_id}/stop", "post", client.post(
            f"/v1/chat-messages/{sent.json()['task_id']}/stop", {"user": "u-1"}, format="json")),
    ]  # fmt: skip
    for path, method, response in checks:
        assert response.status_code == 200, (path, response.content)
        assert_documented(openapi, path, method, response)

    upload = client.post(
        "/v1/files/upload",
        {"file": SimpleUploadedFile("notes.txt", b"some notes", "text/plain"), "user": "u-1"},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    assert_documented(openapi, "/v1/files/upload", "post", upload)
    end_user_id = upload.json()["created_by"]
    end_user = client.get(f"/v1/end-users/{end_user_id}")
    assert end_user.status_code == 200
    assert_documented(openapi, "/v1/end-users/{end_user_id}", "get", end_user)


@pytest.mark.django_db(transaction=True)
def test_completion_responses_match_the_schema(openapi, fake_openai):
    app = chat_app(make_workspace(), fake_openai, mode="completion")
    client = service(app_key(app))
    sent = client.post(
        "/v1/completion-messages",
        {"inputs": {"name": "Ada"}, "user": "u-1", "response_mode": "blocking"},
        format="json",
    )
    assert sent.status_code == 200, sent.content
    assert_documented(openapi, "/v1/completion-messages", "post", sent)


def test_workflow_responses_match_the_schema(openapi):
    app = greeter_app(make_workspace())
    client = service(app_key(app))
    body = {"inputs": GREETER_INPUTS, "user": "u-1", "response_mode": "blocking"}
    ran = client.post("/v1/workflows/run", body, format="json")
    assert ran.status_code == 200, ran.content
    assert_documented(openapi, "/v1/workflows/run", "post", ran)
    version = client.post(f"/v1/workflows/{app.published_workflow_id}/run", body, format="json")
    assert_documented(openapi, "/v1/workflows/{workflow_id}/run", "post", version)

    run_id = ran.json()["workflow_run_id"]
    detail = client.get(f"/v1/workflows/run/{run_id}")
    assert detail.status_code == 200
    assert_documented(openapi, "/v1/workflows/run/{workflow_run_id}", "get", detail)
    logs = client.get("/v1/workflows/logs")
    assert logs.status_code == 200 and logs.json()["total"] == 2
    assert_documented(openapi, "/v1/workflows/logs", "get", logs)


def test_annotation_responses_match_the_schema(openapi, fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    client = service(app_key(app))
    created = client.post("/v1/apps/annotations", {"question": "Q?", "answer": "A."}, format="json")
    assert created.status_code == 201
    assert_documented(openapi, "/v1/apps/annotations", "post", created)
    listed = client.get("/v1/apps/annotations")
    assert_documented(openapi, "/v1/apps/annotations", "get", listed)
    changed = client.put(
        f"/v1/apps/annotations/{created.json()['id']}", {"question": "Q2?", "answer": "B."},
        format="json",
    )  # fmt: skip
    assert_documented(openapi, "/v1/apps/annotations/{annotation_id}", "put", changed)


def test_error_bodies_match_the_documented_error_schema(openapi, fake_openai):
    app = chat_app(make_workspace(), fake_openai)
    client = service(app_key(app))
    missing_user = client.post("/v1/chat-messages", {"query": "hi", "inputs": {}}, format="json")
    _on_errors(openapi, "/v1/chat-messages", "post", missing_user)
    unknown = client.get(
        "/v1/messages", {"user": "u-1", "conversation_id": "00000000-0000-0000-0000-000000000000"}
    )
    _on_errors(openapi, "/v1/messages", "get", unknown)
    wrong_key = service("app-nope").get("/v1/conversations", {"user": "u-1"})
    _on_errors(openapi, "/v1/conversations", "get", wrong_key)
    not_workflow = client.post("/v1/workflows/run", {"inputs": {}, "user": "u-1"}, format="json")
    _on_errors(openapi, "/v1/workflows/run", "post", not_workflow)
