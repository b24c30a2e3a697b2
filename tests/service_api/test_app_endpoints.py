"""GET /v1/parameters, /v1/meta, /v1/site, /v1/info and conversation variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import Conversation, ConversationVariableSet, EndUser, Workflow
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service

pytestmark = pytest.mark.django_db
DSL = Path(__file__).resolve().parents[1] / "workflows" / "dsl"

CHAT_CONFIG = {
    "opening_statement": "Hi! Ask me anything.",
    "suggested_questions": ["What is Dify?"],
    "retriever_resource": {"enabled": True},
    "user_input_form": [
        {"text-input": {"label": "Name", "variable": "name", "required": True, "default": ""}}
    ],
    "file_upload": {"image": {"enabled": True, "number_limits": 2}},
}


def _workflow_app(workspace, name: str = "roundtrip_workflow.yml"):
    text = (DSL / name).read_text()
    return app_import_dsl(workspace=workspace, text=text, publish=True).app


def _chatflow(workspace, variables=None):
    app = make_app(workspace, mode="advanced-chat")
    graph = {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": [
                {"variable": "topic", "label": "Topic", "type": "select",
                 "options": ["a", "b"], "required": True},
                {"variable": "notes", "label": "Notes", "type": "paragraph"},
                {"variable": "count", "label": "Count", "type": "number"},
            ]}},
            {"id": "answer", "data": {"type": "answer", "title": "Answer", "answer": "ok"}},
        ],
        "edges": [{"id": "e", "source": "start", "target": "answer", "sourceHandle": "source"}],
    }  # fmt: skip
    Workflow.objects.create(
        workspace=workspace, app=app, type="chat", graph=graph,
        features={"opening_statement": "Welcome", "suggested_questions": ["q1"]},
        conversation_variables=variables or [],
    )  # fmt: skip
    return app


def test_parameters_of_a_chat_app_come_from_model_config():
    app = make_app(make_workspace(), mode="chat", model_config=CHAT_CONFIG)
    body = service(app_key(app)).get("/v1/parameters").json()
    assert body["opening_statement"] == "Hi! Ask me anything."
    assert body["suggested_questions"] == ["What is Dify?"]
    assert body["retriever_resource"] == {"enabled": True}
    assert body["speech_to_text"] == {"enabled": False}
    assert body["user_input_form"] == CHAT_CONFIG["user_input_form"]
    assert body["file_upload"] == {"image": {"enabled": True, "number_limits": 2}}
    assert body["system_parameters"] == {
        "file_size_limit": 15, "image_file_size_limit": 10, "audio_file_size_limit": 50,
        "video_file_size_limit": 100, "workflow_file_upload_limit": 10,
    }  # fmt: skip


def test_parameters_of_a_workflow_app_come_from_the_start_node():
    app = _workflow_app(make_workspace())
    body = service(app_key(app)).get("/v1/parameters").json()
    assert body["retriever_resource"] == {"enabled": True}
    assert body["file_upload"] == {"enabled": False}
    name, bag = body["user_input_form"]
    assert name["text-input"]["variable"] == "name"
    assert name["text-input"]["label"] == "Name"
    assert name["text-input"]["required"] is True
    assert name["text-input"]["max_length"] == 48
    assert name["text-input"]["default"] == ""
    assert bag == {"json_object": bag["json_object"]}
    assert bag["json_object"]["variable"] == "bag"


def test_parameters_of_a_chatflow_use_the_draft_until_published():
    app = _chatflow(make_workspace())
    body = service(app_key(app)).get("/v1/parameters").json()
    assert body["opening_statement"] == "Welcome"
    assert body["suggested_questions"] == ["q1"]
    kinds = [next(iter(item)) for item in body["user_input_form"]]
    assert kinds == ["select", "paragraph", "number"]
    assert body["user_input_form"][0]["select"]["options"] == ["a", "b"]


def test_parameters_of_a_graph_app_without_workflow_is_app_unavailable():
    app = make_app(make_workspace(), mode="workflow")
    assert_dify_error(service(app_key(app)).get("/v1/parameters"), 400, "app_unavailable")


def test_parameters_with_the_dify_client(asgi_server):
    from dify_client import DifyClient

    app = make_app(make_workspace(), mode="chat", model_config=CHAT_CONFIG)
    client = DifyClient(app_key(app))
    client.base_url = f"{asgi_server}/v1"
    response = client.get_application_parameters("someone")
    assert response.status_code == 200
    assert response.json()["opening_statement"] == "Hi! Ask me anything."


def test_meta_site_and_info():
    app = make_app(make_workspace(), mode="chat", description="Helps", icon="🦜")
    client = service(app_key(app))
    assert client.get("/v1/meta").json() == {"tool_icons": {}}
    site = client.get("/v1/site").json()
    assert site["title"] == app.name and site["icon"] == "🦜" and site["description"] == "Helps"
    assert site["default_language"] == "en-US" and site["use_icon_as_answer_icon"] is False
    assert site["show_workflow_steps"] is True and site["icon_type"] == "emoji"
    info = client.get("/v1/info").json()
    assert info["name"] == app.name and info["mode"] == "chat"


def test_site_of_an_app_whose_site_is_disabled_is_forbidden():
    app = make_app(make_workspace(), enable_site=False)
    assert_dify_error(service(app_key(app)).get("/v1/site"), 403, "forbidden")


@pytest.mark.parametrize("path", ["/v1/parameters", "/v1/meta", "/v1/site"])
def test_app_endpoints_refuse_bad_keys(path):
    app = make_app(make_workspace())
    from rest_framework.test import APIClient

    assert_dify_error(APIClient().get(path), 401, "unauthorized")
    assert_dify_error(service("app-not-a-real-key").get(path), 401, "unauthorized")
    app.enable_api = False
    app.save()
    assert_dify_error(service(app_key(app)).get(path), 403, "forbidden")


# --- conversation variables ---------------------------------------------------------------
VARIABLES = [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "counter", "value_type": "number",
     "value": 0, "description": "turns so far"},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "facts", "value_type": "array[string]",
     "value": [], "description": ""},
    {"id": "33333333-3333-4333-8333-333333333333", "name": "mood", "value_type": "string",
     "value": "calm", "description": ""},
]  # fmt: skip


@pytest.fixture
def chatflow_conversation():
    workspace = make_workspace()
    app = _chatflow(workspace, VARIABLES)
    end_user = EndUser.objects.create(workspace=workspace, app=app, session_id="alice")
    conversation = Conversation.objects.create(workspace=workspace, app=app, end_user=end_user)
    ConversationVariableSet.objects.create(
        workspace=workspace, app=app, conversation_id=str(conversation.pk),
        values={"counter": 3, "facts": ["sky is blue"], "mood": "calm"},
    )  # fmt: skip
    return app, conversation


def test_conversation_variables_list_current_values(chatflow_conversation):
    app, conversation = chatflow_conversation
    url = f"/v1/conversations/{conversation.pk}/variables"
    body = service(app_key(app)).get(url, {"user": "alice"}).json()
    assert body["limit"] == 20 and body["has_more"] is False
    counter, facts, mood = body["data"]
    assert counter["id"] == VARIABLES[0]["id"] and counter["value"] == "3"
    assert counter["value_type"] == "number" and counter["description"] == "turns so far"
    assert facts["value"] == '["sky is blue"]' and mood["value"] == "calm"
    assert isinstance(counter["created_at"], int) and isinstance(counter["updated_at"], int)


def test_conversation_variables_paginate_and_filter(chatflow_conversation):
    app, conversation = chatflow_conversation
    client, url = service(app_key(app)), f"/v1/conversations/{conversation.pk}/variables"
    first = client.get(url, {"user": "alice", "limit": 2}).json()
    assert [v["name"] for v in first["data"]] == ["counter", "facts"] and first["has_more"]
    rest = client.get(url, {"user": "alice", "limit": 2, "last_id": first["data"][-1]["id"]})
    assert [v["name"] for v in rest.json()["data"]] == ["mood"]
    only = client.get(url, {"user": "alice", "variable_name": "mood"}).json()
    assert [v["name"] for v in only["data"]] == ["mood"]
    assert_dify_error(client.get(url, {"user": "alice", "limit": 0}), 400, "invalid_param")
    assert_dify_error(client.get(url, {"user": "alice", "last_id": "nope"}), 404, "not_found")


def test_conversation_variables_belong_to_their_user_and_app(chatflow_conversation):
    app, conversation = chatflow_conversation
    url = f"/v1/conversations/{conversation.pk}/variables"
    client = service(app_key(app))
    assert_dify_error(client.get(url, {"user": "mallory"}), 404, "not_found")
    # no user: Dify's shared DEFAULT-USER, who does not own this conversation
    assert_dify_error(client.get(url), 404, "not_found")
    other = _chatflow(make_workspace(), VARIABLES)
    assert_dify_error(service(app_key(other)).get(url, {"user": "alice"}), 404, "not_found")
    same_workspace = _chatflow(app.workspace, VARIABLES)
    response = service(app_key(same_workspace)).get(url, {"user": "alice"})
    assert_dify_error(response, 404, "not_found")
    unknown = "/v1/conversations/00000000-0000-4000-8000-000000000000/variables"
    assert_dify_error(client.get(unknown, {"user": "alice"}), 404, "not_found")
    assert_dify_error(client.get("/v1/conversations/x/variables", {"user": "alice"}), 404,
                      "not_found")  # fmt: skip


def test_conversation_variables_need_a_chat_app():
    app = _workflow_app(make_workspace())
    url = "/v1/conversations/00000000-0000-4000-8000-000000000000/variables"
    assert_dify_error(service(app_key(app)).get(url, {"user": "u"}), 400, "not_chat_app")
    put = service(app_key(app)).put(url + "/x", {"value": 1, "user": "u"}, format="json")
    assert_dify_error(put, 400, "not_chat_app")


def test_conversation_variable_update_checks_the_type(chatflow_conversation):
    app, conversation = chatflow_conversation
    client = service(app_key(app))
    base = f"/v1/conversations/{conversation.pk}/variables/"
    response = client.put(base + VARIABLES[0]["id"], {"value": 7, "user": "alice"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["value"] == "7" and response.json()["name"] == "counter"
    stored = ConversationVariableSet.objects.get(conversation_id=str(conversation.pk))
    assert stored.values["counter"] == 7 and stored.values["facts"] == ["sky is blue"]
    bad = client.put(base + VARIABLES[0]["id"], {"value": "seven", "user": "alice"}, format="json")
    assert_dify_error(bad, 400, "bad_request")
    bad = client.put(base + VARIABLES[1]["id"], {"value": [1], "user": "alice"}, format="json")
    assert_dify_error(bad, 400, "bad_request")
    ok = client.put(base + VARIABLES[1]["id"], {"value": ["a"], "user": "alice"}, format="json")
    assert ok.status_code == 200
    missing = client.put(base + "nope", {"value": 1, "user": "alice"}, format="json")
    assert_dify_error(missing, 404, "not_found")
    no_value = client.put(base + VARIABLES[0]["id"], {"user": "alice"}, format="json")
    assert_dify_error(no_value, 400, "invalid_param")
    other_user = client.put(base + VARIABLES[0]["id"], {"value": 1, "user": "bob"}, format="json")
    assert_dify_error(other_user, 404, "not_found")
    other_app = service(app_key(_chatflow(make_workspace(), VARIABLES)))
    response = other_app.put(base + VARIABLES[0]["id"], {"value": 1, "user": "alice"},
                             format="json")  # fmt: skip
    assert_dify_error(response, 404, "not_found")
