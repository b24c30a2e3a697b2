"""agent-chat apps call their tools in turn through Dify's SDK (function calling against the
fake OpenAI-compatible server on loopback) and stream Dify's agent events."""

from __future__ import annotations

import datetime
import json

import pytest
from dify_client import ChatClient

from apps.workflows.models import Message
from tests.factories import app_key, make_app, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import answer_requests, connect_model, model_config, sse_events

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    {"enabled": True, "provider_type": "builtin", "provider_id": "time",
     "provider_name": "time", "tool_name": "current_time",
     "tool_parameters": {"timezone": "UTC", "format": "%Y"}},
    {"enabled": True, "provider_type": "builtin", "provider_id": "maths",
     "provider_name": "maths", "tool_name": "eval_expression", "tool_parameters": {}},
    {"enabled": False, "provider_type": "builtin", "provider_id": "time",
     "provider_name": "time", "tool_name": "weekday", "tool_parameters": {}},
]  # fmt: skip


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text="The year times two is known.") as server:
        yield server


def _agent_app(server, tools=TOOLS, strategy="function_call", iterations=5):
    workspace = make_workspace()
    connect_model(workspace, server)
    config = model_config(
        agent_mode={
            "enabled": True,
            "strategy": strategy,
            "max_iteration": iterations,
            "tools": tools,
        }
    )
    return make_app(workspace, mode="agent-chat", model_config=config)


def _client(key: str, base: str) -> ChatClient:
    client = ChatClient(key)
    client.base_url = base + "/v1"
    return client


def test_agent_chat_calls_two_tools_in_turn_and_streams_agent_events(asgi_server, model_server):
    app = _agent_app(model_server)
    model_server.queue_tool_calls({"name": "current_time", "arguments": {}})
    model_server.queue_tool_calls({"name": "eval_expression", "arguments": {"expression": "6*7"}})
    client = _client(app_key(app), asgi_server)
    response = client.create_chat_message(
        {"name": "Ada"}, "What year is it, and what is 6*7?", "u-1", response_mode="streaming"
    )
    assert response.status_code == 200, response.text
    events = list(sse_events(response))
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert events[-1]["event"] == "message_end"
    # three rounds, each opened and closed by an agent_thought with one id
    assert [t["position"] for t in thoughts] == [1, 1, 2, 2, 3, 3]
    assert [t["id"] for t in thoughts[::2]] == [t["id"] for t in thoughts[1::2]]
    first, second, final = thoughts[1], thoughts[3], thoughts[5]
    assert first["tool"] == "current_time" and json.loads(first["tool_input"]) == {}
    year = str(datetime.datetime.now(datetime.UTC).year)
    assert first["observation"].splitlines()[0] == year  # format %Y, fixed in the app
    assert second["tool"] == "eval_expression"
    assert json.loads(second["tool_input"]) == {"expression": "6*7"}
    assert second["observation"].splitlines()[0].endswith(" 42")
    assert final["tool"] == "" and final["thought"] == "The year times two is known."
    answer = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    assert answer == "The year times two is known."

    # the model was offered the two enabled tools, fixed parameters hidden from it
    requests = answer_requests(model_server)
    assert len(requests) == 3
    offered = {t["function"]["name"]: t["function"] for t in requests[0]["tools"]}
    assert set(offered) == {"current_time", "eval_expression"}
    assert "timezone" not in offered["current_time"]["parameters"].get("properties", {})
    assert "expression" in offered["eval_expression"]["parameters"]["properties"]
    # the observations went back to the model as tool messages
    last = requests[-1]["messages"]
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert [m["content"].splitlines()[0][-4:] for m in tool_messages] == [year, "s 42"]

    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.status == "normal" and message.answer == answer
    assert [t["tool"] for t in message.agent_thoughts] == ["current_time", "eval_expression", ""]

    # the conversation's messages carry the agent thoughts (GET /v1/messages)
    listed = client.get_conversation_messages("u-1", events[-1]["conversation_id"]).json()
    assert [t["tool"] for t in listed["data"][0]["agent_thoughts"]] == [
        "current_time",
        "eval_expression",
        "",
    ]


def test_agent_chat_blocking_answers_after_tools(asgi_server, model_server):
    app = _agent_app(model_server)
    model_server.queue_tool_calls({"name": "eval_expression", "arguments": {"expression": "2**10"}})
    response = _client(app_key(app), asgi_server).create_chat_message(
        {"name": "Ada"}, "2 to the 10th?", "u-1"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "agent-chat" and body["answer"] == "The year times two is known."
    message = Message.objects.get(pk=body["message_id"])
    assert message.agent_thoughts[0]["observation"].splitlines()[0].endswith(" 1024")


def test_tool_errors_reach_the_model_as_observations(asgi_server, model_server):
    app = _agent_app(model_server)
    model_server.queue_tool_calls(
        {"name": "eval_expression", "arguments": {"expression": "__import__('os')"}}
    )
    response = _client(app_key(app), asgi_server).create_chat_message(
        {"name": "Ada"}, "hack", "u-1", response_mode="streaming"
    )
    thoughts = [e for e in sse_events(response) if e["event"] == "agent_thought"]
    assert "error" in thoughts[1]["observation"].lower()
    assert thoughts[-1]["thought"] == "The year times two is known."


def test_unknown_or_other_workspace_tool_is_a_400(asgi_server, model_server):
    missing = [{"enabled": True, "provider_type": "builtin", "provider_id": "nope",
                "tool_name": "nothing", "tool_parameters": {}}]  # fmt: skip
    app = _agent_app(model_server, tools=missing)
    response = _client(app_key(app), asgi_server).create_chat_message(
        {"name": "Ada"}, "hi", "u-1", response_mode="streaming"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_param" and "nope/nothing" in body["message"]
    assert not Message.objects.filter(app=app).exists()

    # a custom API tool of another workspace does not exist here
    other_tool = [{"enabled": True, "provider_type": "api",
                   "provider_id": "00000000-0000-0000-0000-000000000001",
                   "tool_name": "anything", "tool_parameters": {}}]  # fmt: skip
    app = _agent_app(model_server, tools=other_tool)
    response = _client(app_key(app), asgi_server).create_chat_message({"name": "Ada"}, "hi", "u-1")
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def test_bad_strategy_is_a_400(asgi_server, model_server):
    app = _agent_app(model_server, strategy="telepathy")
    response = _client(app_key(app), asgi_server).create_chat_message({"name": "Ada"}, "hi", "u-1")
    assert response.status_code == 400 and "telepathy" in response.json()["message"]


def test_models_without_tool_calls_fall_back_to_react(asgi_server, model_server):
    """The first request with tools is refused (400 naming them): the turn goes on in ReAct.
    One iteration: the tool runs, then the final round answers from the model's thought."""
    app = _agent_app(model_server, iterations=1)
    model_server.fail_next(400, "tools are not supported by this model")
    model_server.reply_text = (
        'Thought: compute it.\nAction: eval_expression\nAction Input: {"expression": "6*7"}'
    )
    response = _client(app_key(app), asgi_server).create_chat_message(
        {"name": "Ada"}, "6*7?", "u-1", response_mode="streaming"
    )
    events = list(sse_events(response))
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    assert thoughts[1]["tool"] == "eval_expression"
    assert thoughts[1]["observation"].splitlines()[0].endswith(" 42")
    answer = "".join(e["answer"] for e in events if e["event"] == "agent_message")
    assert answer == "compute it." and events[-1]["event"] == "message_end"
    refused, first, _final = answer_requests(model_server)
    assert "tools" in refused and "tools" not in first and first["stop"] == ["Observation:"]
