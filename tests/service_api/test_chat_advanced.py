"""advanced-chat (chatflow) apps through /v1/chat-messages with Dify's SDK."""

from __future__ import annotations

import pytest
from dify_client import ChatClient

from apps.providers.services import provider_credentials_set
from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import Message, WorkflowRun
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import DSL_DIR, sse_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def openai_server():
    with FakeOpenAIServer(models=("gpt-4o-mini",), reply_text="Bonjour tout le monde") as server:
        yield server


def _chatflow(openai_server: FakeOpenAIServer):
    workspace = make_workspace()
    provider_credentials_set(
        workspace=workspace, provider_name="openai",
        credentials={"openai_api_key": openai_server.api_key,
                     "openai_api_base": openai_server.base_url},
        validate=False,
    )  # fmt: skip
    text = (DSL_DIR / "llm_chat.yml").read_text()
    return app_import_dsl(workspace=workspace, text=text, publish=True).app


def _client(app, base: str) -> ChatClient:
    client = ChatClient(app_key(app))
    client.base_url = base + "/v1"
    return client


def test_chatflow_streams_workflow_and_message_events(asgi_server, openai_server):
    app = _chatflow(openai_server)
    client = _client(app, asgi_server)
    response = client.create_chat_message({}, "Say hello", "u-1", response_mode="streaming")
    events = list(sse_events(response))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-2:] == ["workflow_finished", "message_end"]
    assert "node_started" in kinds and "node_finished" in kinds and "text_chunk" not in kinds
    assert kinds.index("message") < kinds.index("workflow_finished")
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert answer == "Answer: Bonjour tout le monde"
    first = events[0]
    for event in events:
        assert event["message_id"] == first["message_id"]
        assert event["conversation_id"] == first["conversation_id"]
        assert event["task_id"] == first["task_id"] and isinstance(event["created_at"], int)
    assert first["workflow_run_id"] == first["data"]["id"]
    assert events[-2]["data"]["status"] == "succeeded"
    message = Message.objects.get(pk=first["message_id"])
    assert message.answer == answer and message.status == "normal"
    assert message.workflow_run_id is not None
    assert str(message.workflow_run_id) == first["workflow_run_id"]
    run = WorkflowRun.objects.get(pk=first["workflow_run_id"])
    assert run.system_variables["conversation_id"] == first["conversation_id"]
    assert message.answer_tokens == 4  # the LLM node's completion tokens


def test_chatflow_blocking_keeps_memory_between_turns(asgi_server, openai_server):
    app = _chatflow(openai_server)
    client = _client(app, asgi_server)
    first = client.create_chat_message({}, "Say hello", "u-1").json()
    assert first["mode"] == "advanced-chat", first
    assert first["answer"] == "Answer: Bonjour tout le monde"
    second = client.create_chat_message(
        {}, "Again", "u-1", conversation_id=first["conversation_id"]
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    sent = openai_server.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Say hello" and sent[-1]["content"] == "Again"
    history = client.get_conversation_messages("u-1", first["conversation_id"]).json()
    assert [m["query"] for m in history["data"]] == ["Say hello", "Again"]


def test_chatflow_model_failure_ends_with_an_error_event(asgi_server, openai_server):
    app = _chatflow(openai_server)
    client = _client(app, asgi_server)
    openai_server.fail_next(400, "bad request upstream", times=3)
    events = list(sse_events(client.create_chat_message({}, "Hi", "u-1", "streaming")))
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["workflow_finished", "error"]
    assert events[-2]["data"]["status"] == "failed"
    assert events[-1]["message"].startswith("Run failed:")
    assert Message.objects.get(pk=events[-1]["message_id"]).status == "error"
