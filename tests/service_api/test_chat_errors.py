"""Bad input, auth and app-mode errors of the chat-style endpoints: Dify's error bodies."""

from __future__ import annotations

import uuid

import pytest

from apps.workflows.chat.task import background_wait
from apps.workflows.models import Conversation, Message
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service
from tests.service_api.chat_support import chat_app

pytestmark = pytest.mark.django_db

CHAT = {"query": "hi", "inputs": {"name": "Ada"}, "user": "u"}
UNKNOWN = str(uuid.uuid4())
CHAT_ENDPOINTS = [
    ("post", "/v1/chat-messages", CHAT),
    ("post", f"/v1/chat-messages/{UNKNOWN}/stop", {"user": "u"}),
    ("get", "/v1/messages", {"user": "u", "conversation_id": UNKNOWN}),
    ("get", f"/v1/messages/{UNKNOWN}/suggested", {"user": "u"}),
    ("get", "/v1/conversations", {"user": "u"}),
    ("delete", f"/v1/conversations/{UNKNOWN}", {"user": "u"}),
    ("post", f"/v1/conversations/{UNKNOWN}/name", {"user": "u", "name": "x"}),
]
ALL_ENDPOINTS = [
    *CHAT_ENDPOINTS,
    ("post", "/v1/completion-messages", {"inputs": {}, "user": "u"}),
    ("post", f"/v1/completion-messages/{UNKNOWN}/stop", {"user": "u"}),
    ("post", f"/v1/messages/{UNKNOWN}/feedbacks", {"rating": "like", "user": "u"}),
    ("get", "/v1/app/feedbacks", {}),
]


@pytest.fixture(autouse=True)
def _after_answers():
    yield
    background_wait()


def _call(client, method: str, url: str, data: dict):
    if method == "get":
        return client.get(url, data)
    return getattr(client, method)(url, data, format="json")


@pytest.mark.parametrize(("method", "url", "data"), ALL_ENDPOINTS)
def test_missing_or_wrong_key_is_401_and_disabled_api_403(method, url, data):
    app = make_app(make_workspace())
    assert_dify_error(_call(service("app-nope"), method, url, data), 401, "unauthorized")
    from rest_framework.test import APIClient

    assert_dify_error(_call(APIClient(), method, url, data), 401, "unauthorized")
    key = app_key(app)
    app.enable_api = False
    app.save()
    assert_dify_error(_call(service(key), method, url, data), 403, "forbidden")


@pytest.mark.parametrize(("method", "url", "data"), CHAT_ENDPOINTS)
def test_chat_endpoints_refuse_workflow_and_completion_apps(method, url, data):
    for mode in ("workflow", "completion"):
        client = service(app_key(make_app(make_workspace(), mode=mode)))
        assert_dify_error(_call(client, method, url, data), 400, "not_chat_app")


@pytest.mark.parametrize(
    "url", ["/v1/completion-messages", f"/v1/completion-messages/{UNKNOWN}/stop"]
)
def test_completion_endpoints_refuse_chat_apps(url):
    client = service(app_key(make_app(make_workspace(), mode="chat")))
    assert_dify_error(client.post(url, CHAT, format="json"), 400, "app_unavailable")


# Where Dify makes ``user`` optional, a call without it acts for the shared DEFAULT-USER.
OPTIONAL_USER = {"/v1/messages", "/v1/conversations", f"/v1/conversations/{UNKNOWN}",
                 f"/v1/conversations/{UNKNOWN}/name"}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [e for e in ALL_ENDPOINTS if e[1] != "/v1/app/feedbacks" and e[1] not in OPTIONAL_USER],
)
def test_user_is_required(method, url, data, fake_openai):
    mode = "completion" if "completion" in url else "chat"
    client = service(app_key(chat_app(make_workspace(), fake_openai, mode=mode)))
    without = {k: v for k, v in data.items() if k != "user"}
    assert_dify_error(_call(client, method, url, without), 400, "invalid_param")


@pytest.mark.parametrize(
    ("method", "url", "data"), [e for e in ALL_ENDPOINTS if e[1] in OPTIONAL_USER]
)
def test_optional_user_acts_for_the_default_user(method, url, data, fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    without = {k: v for k, v in data.items() if k != "user"}
    response = _call(client, method, url, without)
    if url == "/v1/conversations":
        assert response.status_code == 200 and response.json()["data"] == []
    else:  # the default user owns no such conversation
        assert_dify_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({}, "name is required in input form"),
        ({"name": "x" * 11}, "must be less than 10 characters"),
        ({"name": "Ada", "tone": "loud"}, "must be one of the following"),
        ({"name": 3}, "must be a string"),
        ("nope", "inputs must be an object"),
    ],
)
def test_inputs_are_checked_against_the_form(inputs, fragment, fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    answer = client.post("/v1/chat-messages", {**CHAT, "inputs": inputs}, format="json")
    assert fragment in assert_dify_error(answer, 400, "invalid_param")["message"]
    assert Message.objects.count() == 0 and Conversation.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {**CHAT, "query": ""},
        {**CHAT, "query": ["hi"]},
        {**CHAT, "response_mode": "fast"},
        {**CHAT, "files": "x"},
        {**CHAT, "auto_generate_name": "yes"},
        {**CHAT, "conversation_id": 5},
    ],
)
def test_bad_chat_bodies_are_invalid_param(body, fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    assert_dify_error(client.post("/v1/chat-messages", body, format="json"), 400, "invalid_param")


def test_unknown_conversation_is_404_not_found(fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    for conversation_id in (UNKNOWN, "not-a-uuid"):
        body = {**CHAT, "conversation_id": conversation_id}
        answer = client.post("/v1/chat-messages", body, format="json")
        assert assert_dify_error(answer, 404, "not_found")["message"] == "Conversation Not Exists."
    messages = client.get("/v1/messages", {"user": "u"})
    assert_dify_error(messages, 400, "invalid_param")  # conversation_id is required


def test_model_not_set_up_is_provider_not_initialize():
    app = make_app(make_workspace(), model_config={"model": {"provider": "openai", "name": "x"}})
    client = service(app_key(app))
    answer = client.post("/v1/chat-messages", CHAT | {"inputs": {}}, format="json")
    assert_dify_error(answer, 400, "provider_not_initialize")
    bare = service(app_key(make_app(make_workspace())))
    answer = bare.post("/v1/chat-messages", CHAT | {"inputs": {}}, format="json")
    assert_dify_error(answer, 400, "provider_not_initialize")
    assert Message.objects.count() == 0


def test_unknown_message_is_404(fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    for message_id in (UNKNOWN, "42"):
        feedback = client.post(
            f"/v1/messages/{message_id}/feedbacks", {"rating": "like", "user": "u"}, format="json"
        )
        assert assert_dify_error(feedback, 404, "not_found")["message"] == "Message Not Exists."


def test_blocking_chat_through_the_test_client(fake_openai):
    client = service(app_key(chat_app(make_workspace(), fake_openai)))
    answer = client.post("/v1/chat-messages", CHAT, format="json")
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["answer"] == "Hello from the fake model." and body["mode"] == "chat"
