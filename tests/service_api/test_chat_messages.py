"""chat / agent-chat / completion apps through Dify's own SDK against a real ASGI server."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from dify_client import ChatClient, CompletionClient

from apps.workflows.chat.task import background_wait
from apps.workflows.models import Conversation, Message
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import chat_app, sse_events

pytestmark = pytest.mark.django_db(transaction=True)

USAGE_KEYS = {
    "prompt_tokens", "prompt_unit_price", "prompt_price_unit", "prompt_price",
    "completion_tokens", "completion_unit_price", "completion_price_unit", "completion_price",
    "total_tokens", "total_price", "currency", "latency",
}  # fmt: skip


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text="Paris is the capital of France.") as server:
        yield server


def _client(cls, key: str, base: str):
    client = cls(key)
    client.base_url = base + "/v1"
    return client


def test_chat_blocking_answers_and_records_the_conversation(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server)
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message({"name": "Ada"}, "Capital of France?", "u-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["event"] == "message" and body["mode"] == "chat"
    assert body["answer"] == "Paris is the capital of France."
    assert body["id"] == body["message_id"] and body["task_id"] and body["conversation_id"]
    assert isinstance(body["created_at"], int)
    usage = body["metadata"]["usage"]
    assert set(usage) == USAGE_KEYS and usage["completion_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + 6
    assert body["metadata"]["retriever_resources"] == []
    sent = model_server.requests_to("/chat/completions")[0].json["messages"]
    assert sent == [
        {"role": "system", "content": "You help Ada. Tone: ."},
        {"role": "user", "content": "Capital of France?"},
    ]
    message = Message.objects.get(pk=body["message_id"])
    assert message.status == "normal" and message.answer == body["answer"]
    assert (message.message_tokens, message.answer_tokens) == (usage["prompt_tokens"], 6)
    background_wait()
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.dialogue_count == 1 and conversation.introduction == "Hi Ada!"
    assert conversation.name == "Paris is the capital of France."  # the model's title
    assert len(model_server.requests_to("/chat/completions")) == 2

    second = client.create_chat_message(
        {}, "And of Italy?", "u-1", conversation_id=body["conversation_id"]
    ).json()
    assert second["conversation_id"] == body["conversation_id"]
    history = model_server.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
    assert history[0]["content"] == "You help Ada. Tone: ."  # the conversation's inputs
    assert history[2]["content"] == "Paris is the capital of France."
    conversation.refresh_from_db()
    assert conversation.dialogue_count == 2


def test_chat_streaming_sends_text_before_the_end(asgi_server, model_server):
    model_server.chunk_delay = 0.15
    app = chat_app(make_workspace(), model_server)
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message(
        {"name": "Ada"}, "Capital?", "u-1", response_mode="streaming"
    )
    assert response.headers["Content-Type"].startswith("text/event-stream")
    seen = [(time.monotonic(), event) for event in sse_events(response)]
    kinds = [event["event"] for _, event in seen]
    assert kinds[-1] == "message_end" and set(kinds[:-1]) == {"message"}
    assert "".join(e["answer"] for _, e in seen[:-1]) == "Paris is the capital of France."
    assert seen[-1][0] - seen[0][0] > 0.3  # the first words came well before the end
    ids = {(e["task_id"], e["message_id"], e["conversation_id"]) for _, e in seen}
    assert len(ids) == 1 and all(isinstance(e["created_at"], int) for _, e in seen)
    end = seen[-1][1]
    assert set(end["metadata"]["usage"]) == USAGE_KEYS
    assert end["metadata"]["retriever_resources"] == []
    assert Message.objects.get(pk=end["message_id"]).answer == "Paris is the capital of France."


def test_stop_from_another_request_ends_the_stream_and_stores_stopped(asgi_server, model_server):
    model_server.reply_text = " ".join(f"word{i}" for i in range(40))
    model_server.chunk_delay = 0.1
    app = chat_app(make_workspace(), model_server)
    key = app_key(app)
    client = _client(ChatClient, key, asgi_server)
    response = client.create_chat_message({"name": "Ada"}, "Talk", "u-1", response_mode="streaming")
    events = []
    stopped: list[requests.Response] = []
    for event in sse_events(response):
        events.append(event)
        if len(events) == 2:
            url = f"{asgi_server}/v1/chat-messages/{event['task_id']}/stop"
            headers = {"Authorization": f"Bearer {key}"}

            def stop(url: str = url, headers: dict = headers) -> None:
                stopped.append(requests.post(url, json={"user": "u-1"}, headers=headers))

            threading.Thread(target=stop).start()
    assert events[-1]["event"] == "message_end"
    assert stopped[0].json() == {"result": "success"}
    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.status == "stopped"
    assert message.answer and message.answer.startswith("word0 ")
    assert len(message.answer.split()) < 40


def test_stop_by_another_user_is_ignored(asgi_server, model_server):
    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server)
    key = app_key(app)
    client = _client(ChatClient, key, asgi_server)
    response = client.create_chat_message({"name": "Ada"}, "Hi", "u-1", response_mode="streaming")
    events = []
    for event in sse_events(response):
        if not events:
            answer = requests.post(
                f"{asgi_server}/v1/chat-messages/{event['task_id']}/stop",
                json={"user": "intruder"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.json() == {"result": "success"}
        events.append(event)
    assert Message.objects.get(pk=events[-1]["message_id"]).status == "normal"


def test_agent_chat_streams_agent_events(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server, mode="agent-chat")
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message({"name": "Ada"}, "Hi", "u-1", response_mode="streaming")
    events = list(sse_events(response))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "agent_thought" and kinds[-2:] == ["agent_thought", "message_end"]
    assert set(kinds[1:-2]) == {"agent_message"}
    assert events[-2]["thought"] == "Paris is the capital of France."
    assert events[0]["id"] == events[-2]["id"] and events[0]["position"] == 1
    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.agent_thoughts[0]["thought"] == message.answer


def test_completion_app_blocking_and_streaming(asgi_server, model_server):
    app = chat_app(
        make_workspace(), model_server, mode="completion",
        pre_prompt="Translate for {{name}}: {{text}}",
        user_input_form=[
            {"text-input": {"variable": "name", "required": True}},
            {"paragraph": {"variable": "text", "required": True}},
        ],
    )  # fmt: skip
    client = _client(CompletionClient, app_key(app), asgi_server)
    response = client.create_completion_message({"name": "Ada", "text": "bonjour"}, "blocking", "u")
    body = response.json()
    assert response.status_code == 200, body
    assert body["mode"] == "completion" and body["answer"] == "Paris is the capital of France."
    assert "conversation_id" not in body
    sent = model_server.requests_to("/chat/completions")[0].json["messages"]
    assert sent == [{"role": "user", "content": "Translate for Ada: bonjour"}]
    assert Message.objects.get(pk=body["id"]).conversation_id is None

    streamed = client.create_completion_message({"name": "Ada", "text": "x"}, "streaming", "u")
    events = list(sse_events(streamed))
    assert [e["event"] for e in events][-1] == "message_end"
    assert all("conversation_id" not in e for e in events)
    assert Conversation.objects.count() == 0


def test_provider_failure_mid_request_is_a_dify_error(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server)
    client = _client(ChatClient, app_key(app), asgi_server)
    model_server.fail_next(500, "upstream broke", times=3)
    response = client.create_chat_message({"name": "Ada"}, "Hi", "u-1", response_mode="streaming")
    events = list(sse_events(response))
    assert events[-1]["event"] == "error" and events[-1]["message_id"]
    assert events[-1]["code"] and events[-1]["status"] >= 400
    assert Message.objects.get(pk=events[-1]["message_id"]).status == "error"
    model_server.fail_next(429, "slow down", times=3)
    blocking = client.create_chat_message({"name": "Ada"}, "Hi", "u-1")
    body = blocking.json()
    assert blocking.status_code == 429 and body["code"] == "rate_limit_error", body
    assert set(body) == {"code", "message", "status"}


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_another_workspaces_key_cannot_stop_a_task(asgi_server, model_server, mode):
    """Dify answers "success" to a stop of an unknown task; another workspace's key (with the
    same user name) gets that answer and the task runs to its end."""
    model_server.reply_text = " ".join(f"word{i}" for i in range(10))
    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server, mode=mode)
    other_key = app_key(chat_app(make_workspace(), model_server, mode=mode))
    route = "chat-messages" if mode == "chat" else "completion-messages"
    body = {"inputs": {"name": "Ada"}, "query": "Talk", "user": "u-1", "response_mode": "streaming"}
    response = requests.post(
        f"{asgi_server}/v1/{route}", json=body, stream=True, timeout=30,
        headers={"Authorization": f"Bearer {app_key(app)}"},
    )  # fmt: skip
    events = []
    for event in sse_events(response):
        if not events:
            answer = requests.post(
                f"{asgi_server}/v1/{route}/{event['task_id']}/stop", json={"user": "u-1"},
                headers={"Authorization": f"Bearer {other_key}"}, timeout=10,
            )  # fmt: skip
            assert answer.status_code == 200 and answer.json() == {"result": "success"}
        events.append(event)
    assert events[-1]["event"] == "message_end"
    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.status == "normal" and len(message.answer.split()) == 10
