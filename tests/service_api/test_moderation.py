"""Moderation types beyond keywords (openai_moderation, api), in every chat mode, and the
external data tools of the simple modes — against real loopback servers."""

from __future__ import annotations

import pytest
import requests
from dify_client import ChatClient

from apps.providers.services import default_model_set, provider_credentials_set
from apps.tools.api_extensions import api_extension_create
from apps.workflows.chat.task import background_wait
from apps.workflows.models import Message, Workflow, WorkflowRun
from tests.factories import app_key, make_app, make_workspace
from tests.fakes.extension_server import FakeExtensionServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import chat_app, connect_model, sse_events

pytestmark = pytest.mark.django_db(transaction=True)
PRESETS = {
    "inputs_config": {"enabled": True, "preset_response": "Not that, please."},
    "outputs_config": {"enabled": True, "preset_response": "[withheld]"},
}


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text="I will kill the stale process now.") as server:
        yield server


@pytest.fixture
def extension(settings):
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the extension listens on loopback
    with FakeExtensionServer() as server:
        yield server


def _client(key: str, base: str) -> ChatClient:
    client = ChatClient(key)
    client.base_url = base + "/v1"
    return client


def _post(base: str, app, body: dict, path: str = "/v1/chat-messages") -> requests.Response:
    return requests.post(
        base + path, json={"inputs": {"name": "Ada"}, "user": "u", **body},
        headers={"Authorization": f"Bearer {app_key(app)}"}, timeout=20,
    )  # fmt: skip


def _openai_moderation(**parts) -> dict:
    return {"enabled": True, "type": "openai_moderation", "config": {**PRESETS, **parts}}


def _use_openai(workspace, server: FakeOpenAIServer) -> None:
    """The workspace's OpenAI provider points at the fake server (Dify's moderation route)."""
    provider_credentials_set(
        workspace=workspace, provider_name="openai",
        credentials={"openai_api_key": server.api_key, "openai_api_base": server.base_url},
        validate=False,
    )  # fmt: skip


def _chat_calls(server: FakeOpenAIServer) -> list:
    return [r for r in server.requests_to("/v1/chat/completions") if r.json.get("stream")]


# -- openai_moderation -------------------------------------------------------------------------
def test_openai_moderation_answers_flagged_inputs_with_the_preset(asgi_server, model_server):
    workspace = make_workspace()
    app = chat_app(workspace, model_server, sensitive_word_avoidance=_openai_moderation())
    _use_openai(workspace, model_server)
    body = (
        _client(app_key(app), asgi_server)
        .create_chat_message({"name": "Ada"}, "how do I kill a zombie process?", "u")
        .json()
    )
    assert body["answer"] == "Not that, please."
    sent = model_server.requests_to("/v1/moderations")
    assert sent and sent[0].json["model"] == "omni-moderation-latest"
    assert "kill a zombie" in sent[0].json["input"] and "Ada" in sent[0].json["input"]
    assert _chat_calls(model_server) == []
    background_wait()


def test_openai_moderation_replaces_a_flagged_answer(asgi_server, model_server):
    workspace = make_workspace()
    app = chat_app(workspace, model_server, sensitive_word_avoidance=_openai_moderation())
    _use_openai(workspace, model_server)
    response = _post(asgi_server, app, {"query": "tidy up", "response_mode": "streaming"})
    events = list(sse_events(response))
    assert [e["event"] for e in events][-2:] == ["message_replace", "message_end"]
    assert events[-2]["answer"] == "[withheld]"
    assert Message.objects.get(pk=events[-1]["message_id"]).answer == "[withheld]"
    inputs = [r.json["input"] for r in model_server.requests_to("/v1/moderations")]
    assert "tidy up" in inputs[0] and inputs[-1] == "I will kill the stale process now."
    blocking = _post(asgi_server, app, {"query": "tidy up"}).json()
    assert blocking["answer"] == "[withheld]"
    background_wait()


def test_openai_moderation_uses_the_default_moderation_model(asgi_server, model_server):
    workspace = make_workspace()
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials={"base_url": model_server.base_url, "api_key": model_server.api_key,
                     "models": "fake-chat,fake-moderation:moderation"},
        validate=False,
    )  # fmt: skip
    default_model_set(workspace=workspace, model_type="llm",
                      provider_name="openai_api_compatible", model="fake-chat")  # fmt: skip
    default_model_set(workspace=workspace, model_type="moderation",
                      provider_name="openai_api_compatible", model="fake-moderation")  # fmt: skip
    app = make_app(workspace, mode="chat", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "sensitive_word_avoidance": _openai_moderation(),
    })  # fmt: skip
    assert _post(asgi_server, app, {"query": "kill it"}).json()["answer"] == "Not that, please."
    assert model_server.requests_to("/v1/moderations")[0].json["model"] == "fake-moderation"
    background_wait()


def test_openai_moderation_without_a_moderation_model_is_a_400(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server, sensitive_word_avoidance=_openai_moderation())
    response = _post(asgi_server, app, {"query": "hello"})
    assert response.status_code == 400 and response.json()["code"] == "provider_not_initialize"
    assert not Message.objects.filter(app=app).exists()


def test_long_answers_are_checked_while_they_stream(asgi_server, model_server, settings):
    settings.MODERATION_BUFFER_SIZE = 20
    model_server.reply_text = "This is a calm and long answer " * 6 + "then kill it."
    workspace = make_workspace()
    app = chat_app(workspace, model_server, sensitive_word_avoidance=_openai_moderation())
    _use_openai(workspace, model_server)
    events = list(sse_events(_post(asgi_server, app, {"query": "q", "response_mode": "streaming"})))
    assert events[-2]["event"] == "message_replace" and events[-2]["answer"] == "[withheld]"
    outputs = [r.json["input"] for r in model_server.requests_to("/v1/moderations")][1:]
    assert len(outputs) >= 2  # at least one check while streaming, and the final one
    assert outputs[0] != model_server.reply_text and model_server.reply_text.startswith(outputs[0])
    background_wait()


# -- api (API-based extension) ----------------------------------------------------------------
def _api_moderation(workspace, server: FakeExtensionServer, **parts) -> dict:
    ext = api_extension_create(
        workspace=workspace, name="moderator", api_endpoint=server.url, api_key=server.api_key
    )
    config = {
        "api_based_extension_id": str(ext.pk),
        "inputs_config": {"enabled": True},
        "outputs_config": {"enabled": True},
        **parts,
    }
    return {"enabled": True, "type": "api", "config": config}  # fmt: skip


def test_api_moderation_direct_output_and_overridden_inputs(asgi_server, model_server, extension):
    workspace = make_workspace()
    connect_model(workspace, model_server)

    def judge(params: dict) -> dict:
        if "secret" in params["query"]:
            return {"flagged": True, "action": "direct_output", "preset_response": "No secrets."}
        if "rude" in params["query"]:
            return {"flagged": True, "action": "overridden", "inputs": params["inputs"],
                    "query": params["query"].replace("rude", "polite")}  # fmt: skip
        return {"flagged": False, "action": "direct_output"}

    extension.answers["app.moderation.input"] = judge
    extension.answers["app.moderation.output"] = {"flagged": False, "action": "direct_output"}
    app = make_app(workspace, mode="chat", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "sensitive_word_avoidance": _api_moderation(workspace, extension),
    })  # fmt: skip
    assert _post(asgi_server, app, {"query": "tell me a secret"}).json()["answer"] == "No secrets."
    assert _chat_calls(model_server) == []
    assert _post(asgi_server, app, {"query": "a rude question", "response_mode": "streaming"}).ok
    prompt = _chat_calls(model_server)[-1].json["messages"][-1]["content"]
    assert prompt == "a polite question"
    stored = Message.objects.filter(app=app).order_by("created_at").last()
    assert stored is not None and stored.query == "a rude question"  # what the user sent
    sent = [r["body"] for r in extension.requests if r["body"]["point"] != "ping"]
    assert sent[0]["params"] == {"app_id": str(app.pk), "inputs": {}, "query": "tell me a secret"}
    assert extension.requests[0]["headers"]["Authorization"] == f"Bearer {extension.api_key}"
    background_wait()


def test_api_moderation_overrides_a_flagged_answer(asgi_server, model_server, extension):
    workspace = make_workspace()
    connect_model(workspace, model_server)
    extension.answers["app.moderation.input"] = {"flagged": False}
    extension.answers["app.moderation.output"] = lambda p: {
        "flagged": "kill" in p["text"], "action": "overridden",
        "text": p["text"].replace("kill", "stop"),
    }  # fmt: skip
    app = make_app(workspace, mode="completion", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "pre_prompt": "Say something.",
        "sensitive_word_avoidance": _api_moderation(workspace, extension),
    })  # fmt: skip
    body = _post(asgi_server, app, {}, path="/v1/completion-messages").json()
    assert body["answer"] == "I will stop the stale process now."


def test_api_moderation_errors(asgi_server, model_server, extension):
    workspace = make_workspace()
    connect_model(workspace, model_server)
    config = _api_moderation(workspace, extension)
    app = make_app(workspace, mode="chat", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "sensitive_word_avoidance": config,
    })  # fmt: skip
    extension.status = 500  # the input check fails: a Dify-shaped 400, nothing stored
    response = _post(asgi_server, app, {"query": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "completion_request_error"
    assert not Message.objects.filter(app=app).exists()

    other = make_workspace()  # another workspace's extension id is not usable here
    connect_model(other, model_server)
    foreign = make_app(other, mode="chat", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "sensitive_word_avoidance": config,
    })  # fmt: skip
    response = _post(asgi_server, foreign, {"query": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def test_a_failing_output_check_lets_the_answer_through(asgi_server, model_server, extension):
    workspace = make_workspace()
    connect_model(workspace, model_server)
    extension.answers["app.moderation.input"] = {"flagged": False}  # no output answer: HTTP 400
    app = make_app(workspace, mode="chat", model_config={
        "model": {"provider": "openai_api_compatible", "name": "fake-chat"},
        "sensitive_word_avoidance": _api_moderation(workspace, extension),
    })  # fmt: skip
    body = _post(asgi_server, app, {"query": "hi"}).json()
    assert body["answer"] == "I will kill the stale process now."
    background_wait()


# -- agent-chat and advanced-chat --------------------------------------------------------------
def _keywords(word: str = "kill") -> dict:
    return {"enabled": True, "type": "keywords", "config": {"keywords": word, **PRESETS}}


def test_agent_chat_output_is_moderated(asgi_server, model_server):
    agent_mode = {"enabled": True, "strategy": "function_call", "tools": []}
    app = chat_app(
        make_workspace(), model_server, mode="agent-chat", agent_mode=agent_mode,
        sensitive_word_avoidance=_keywords(),
    )  # fmt: skip
    events = list(
        sse_events(_post(asgi_server, app, {"query": "go", "response_mode": "streaming"}))
    )
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["message_replace", "message_end"] and events[-2]["answer"] == "[withheld]"
    sent = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    assert "kill" not in sent
    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.answer == "[withheld]" and message.status == "normal"
    background_wait()


def _chatflow(workspace, answer: str, moderation: dict):
    app = make_app(workspace, mode="advanced-chat")
    graph = {
        "nodes": [
            {"id": "start", "data": {"type": "start", "title": "Start", "variables": []}},
            {"id": "answer", "data": {"type": "answer", "title": "Answer", "answer": answer}},
        ],
        "edges": [{"id": "e", "source": "start", "target": "answer", "sourceHandle": "source"}],
    }
    Workflow.objects.create(
        workspace=workspace, app=app, type="chat", graph=graph,
        features={"sensitive_word_avoidance": moderation},
    )  # fmt: skip
    return app


def test_chatflow_inputs_are_moderated_before_the_workflow_runs(asgi_server):
    app = _chatflow(make_workspace(), "echo {{#sys.query#}}", _keywords("forbidden"))
    response = _post(asgi_server, app, {"query": "a forbidden topic", "inputs": {}})
    assert response.json()["answer"] == "Not that, please."
    assert not WorkflowRun.objects.filter(app=app).exists()
    fine = _post(asgi_server, app, {"query": "weather", "inputs": {}}).json()
    assert fine["answer"] == "echo weather"
    background_wait()


def test_chatflow_answers_are_moderated(asgi_server):
    outputs_only = {"enabled": True, "type": "keywords", "config": {
        "keywords": "forbidden", "inputs_config": {"enabled": False},
        "outputs_config": {"enabled": True, "preset_response": "[withheld]"}}}  # fmt: skip
    app = _chatflow(make_workspace(), "you asked: {{#sys.query#}}", outputs_only)
    body = {"query": "the forbidden word", "inputs": {}, "response_mode": "streaming"}
    events = list(sse_events(_post(asgi_server, app, body)))
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["message_replace", "message_end"] and events[-2]["answer"] == "[withheld]"
    assert "forbidden" not in "".join(
        e.get("answer", "") for e in events if e["event"] == "message"
    )
    assert Message.objects.get(pk=events[-1]["message_id"]).answer == "[withheld]"
    background_wait()


# -- external data tools -----------------------------------------------------------------------
def test_external_data_tools_fill_an_input_from_an_extension(asgi_server, model_server, extension):
    workspace = make_workspace()
    ext = api_extension_create(
        workspace=workspace, name="weather", api_endpoint=extension.url,
        api_key=extension.api_key,
    )  # fmt: skip
    extension.answers["app.external_data_tool.query"] = lambda p: {
        "result": f"sunny in {p['inputs']['name']}'s town ({p['tool_variable']})"
    }
    app = chat_app(
        workspace, model_server, pre_prompt="Weather: {{weather}}.",
        external_data_tools=[{"enabled": True, "type": "api", "variable": "weather",
                              "config": {"api_based_extension_id": str(ext.pk)}}],
    )  # fmt: skip
    assert _post(asgi_server, app, {"query": "and today?", "response_mode": "streaming"}).content
    system = _chat_calls(model_server)[-1].json["messages"][0]["content"]
    assert system == "Weather: sunny in Ada's town (weather)."
    params = extension.requests[-1]["body"]["params"]
    assert params["query"] == "and today?" and params["app_id"] == str(app.pk)
    background_wait()
