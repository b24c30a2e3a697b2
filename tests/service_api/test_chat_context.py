"""Dataset context and keywords moderation of the simple modes, through Dify's own SDK.

Datasets are economy (full-text) ones: no embedding model is needed."""

from __future__ import annotations

import pytest
import requests
from dify_client import ChatClient, CompletionClient

from apps.datasets import services
from apps.datasets.models import Dataset
from apps.workflows.chat.context import CONTEXT_PROMPT
from apps.workflows.chat.task import background_wait
from apps.workflows.models import Message
from tests.datasets.kb_support import FACTS, QUESTIONS
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import answer_requests, chat_app, sse_events

pytestmark = pytest.mark.django_db(transaction=True)

RESOURCE_KEYS = {
    "id", "message_id", "position", "dataset_id", "dataset_name", "document_id",
    "document_name", "data_source_type", "segment_id", "score", "hit_count", "word_count",
    "segment_position", "index_node_hash", "content", "summary", "created_at",
}  # fmt: skip
CONTEXT_HEAD = CONTEXT_PROMPT.split("{{#context#}}")[0]


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text="Paris is the capital of France.") as server:
        yield server


def _client(cls, key: str, base: str):
    client = cls(key)
    client.base_url = base + "/v1"
    return client


def _dataset(workspace, name: str = "Facts", kinds=("txt", "md", "pdf", "docx")) -> Dataset:
    dataset = services.dataset_create(workspace=workspace, name=name, indexing_technique="economy")
    for kind in kinds:
        services.document_create_from_text(dataset=dataset, name=f"{kind}.txt", text=FACTS[kind])
    return dataset


def _dataset_configs(*datasets: Dataset, **extra) -> dict:
    items = [{"dataset": {"enabled": True, "id": str(d.pk)}} for d in datasets]
    return {
        "retrieval_model": "multiple", "top_k": 2, "score_threshold": None,
        "reranking_enable": False, "datasets": {"strategy": "router", "datasets": items},
        **extra,
    }  # fmt: skip


def _chat_with_dataset(workspace, server, dataset, *, show: bool = True, **config):
    return chat_app(
        workspace, server, dataset_configs=_dataset_configs(dataset),
        retriever_resource={"enabled": show}, **config,
    )  # fmt: skip


def test_chat_blocking_puts_the_chunk_in_the_system_prompt_and_cites_it(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    app = _chat_with_dataset(workspace, model_server, dataset)
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message({"name": "Ada"}, QUESTIONS["txt"], "u-1")
    assert response.status_code == 200, response.text
    body = response.json()
    system = model_server.requests_to("/chat/completions")[0].json["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(CONTEXT_HEAD)
    assert FACTS["txt"] in system["content"]
    assert system["content"].endswith("You help Ada. Tone: .")  # the pre-prompt after it
    resources = body["metadata"]["retriever_resources"]
    assert resources and set(resources[0]) >= RESOURCE_KEYS
    first = resources[0]
    assert first["position"] == 1 and first["document_name"] == "txt.txt"
    assert first["dataset_id"] == str(dataset.pk) and first["dataset_name"] == "Facts"
    assert first["content"] == FACTS["txt"] and first["message_id"] == body["id"]
    assert isinstance(first["score"], float) and first["segment_id"]
    stored = Message.objects.get(pk=body["id"])
    assert stored.retriever_resources == resources
    listed = client.get_conversation_messages("u-1", body["conversation_id"]).json()
    assert listed["data"][0]["retriever_resources"] == resources
    background_wait()


def test_chat_streaming_message_end_carries_retriever_resources(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    app = _chat_with_dataset(workspace, model_server, dataset)
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message(
        {"name": "Ada"}, QUESTIONS["md"], "u-1", response_mode="streaming"
    )
    events = list(sse_events(response))
    end = events[-1]
    assert end["event"] == "message_end"
    resources = end["metadata"]["retriever_resources"]
    assert resources[0]["document_name"] == "md.txt"
    assert Message.objects.get(pk=end["message_id"]).retriever_resources == resources
    background_wait()


def test_citations_off_keeps_the_context_but_reports_none(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    app = _chat_with_dataset(workspace, model_server, dataset, show=False)
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, QUESTIONS["docx"], "u-1").json()
    system = model_server.requests_to("/chat/completions")[0].json["messages"][0]["content"]
    assert FACTS["docx"] in system
    assert body["metadata"]["retriever_resources"] == []
    assert Message.objects.get(pk=body["id"]).retriever_resources == []
    background_wait()


def test_completion_app_searches_with_the_dataset_query_variable(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    form = [{"paragraph": {"label": "Q", "variable": "question", "required": True}}]
    app = chat_app(
        workspace, model_server, mode="completion", user_input_form=form,
        pre_prompt="Facts:\n{{#context#}}\nQuestion: {{question}}",
        dataset_configs=_dataset_configs(dataset), dataset_query_variable="question",
        retriever_resource={"enabled": True},
    )  # fmt: skip
    client = _client(CompletionClient, app_key(app), asgi_server)
    response = client.create_completion_message({"question": QUESTIONS["pdf"]}, "blocking", "u")
    assert response.status_code == 200, response.text
    body = response.json()
    sent = model_server.requests_to("/chat/completions")[0].json["messages"]
    assert len(sent) == 1 and sent[0]["role"] == "user"
    assert sent[0]["content"].startswith(f"Facts:\n{FACTS['pdf']}")  # at the placeholder
    assert sent[0]["content"].endswith(f"Question: {QUESTIONS['pdf']}")
    assert CONTEXT_HEAD not in sent[0]["content"]
    assert body["metadata"]["retriever_resources"][0]["document_name"] == "pdf.txt"

    streamed = client.create_completion_message({"question": QUESTIONS["md"]}, "streaming", "u")
    end = list(sse_events(streamed))[-1]
    assert end["event"] == "message_end"
    assert end["metadata"]["retriever_resources"][0]["document_name"] == "md.txt"


def test_another_workspaces_dataset_finds_nothing(asgi_server, model_server):
    foreign = _dataset(make_workspace(), "Secret")
    workspace = make_workspace()
    app = _chat_with_dataset(workspace, model_server, foreign)
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, QUESTIONS["txt"], "u-1").json()
    system = model_server.requests_to("/chat/completions")[0].json["messages"][0]["content"]
    assert system == "You help Ada. Tone: ."
    assert body["metadata"]["retriever_resources"] == []
    background_wait()


def test_a_failing_retrieval_is_a_dify_error_not_a_silent_answer(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    configs = _dataset_configs(
        dataset, reranking_enable=True,
        reranking_model={"reranking_provider_name": "missing", "reranking_model_name": "x"},
    )  # fmt: skip
    app = chat_app(workspace, model_server, dataset_configs=configs)
    client = _client(ChatClient, app_key(app), asgi_server)
    for mode in ("blocking", "streaming"):
        response = client.create_chat_message({"name": "Ada"}, "lens", "u-1", response_mode=mode)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "provider_not_initialize"
    assert model_server.requests_to("/chat/completions") == []
    assert not Message.objects.filter(app=app).exists()


def _moderation(inputs: bool = True, outputs: bool = True, kind: str = "keywords") -> dict:
    return {
        "enabled": True, "type": kind,
        "config": {
            "keywords": "forbidden\nCAPITAL",
            "inputs_config": {"enabled": inputs, "preset_response": "I cannot talk about that."},
            "outputs_config": {"enabled": outputs, "preset_response": "[answer withheld]"},
        },
    }  # fmt: skip


def test_flagged_inputs_answer_the_preset_without_a_model_call(asgi_server, model_server):
    app = chat_app(
        make_workspace(), model_server, sensitive_word_avoidance=_moderation(outputs=False)
    )
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, "Tell me FORBIDDEN things", "u-1").json()
    assert body["answer"] == "I cannot talk about that."
    assert body["metadata"]["usage"]["total_tokens"] == 0
    streamed = client.create_chat_message(
        {"name": "forbidden"}, "hello", "u-2", response_mode="streaming"
    )  # a flagged form value counts too
    events = list(sse_events(streamed))
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert events[0]["answer"] == "I cannot talk about that."
    background_wait()
    for request in model_server.requests_to("/chat/completions"):  # titles only
        assert all(m["content"] != "You help Ada. Tone: ." for m in request.json["messages"])
        assert not request.json.get("stream")
    for message_id in (body["id"], events[-1]["message_id"]):
        message = Message.objects.get(pk=message_id)
        assert message.answer == "I cannot talk about that." and message.status == "normal"


def test_flagged_completion_inputs_make_no_model_call(asgi_server, model_server):
    app = chat_app(
        make_workspace(), model_server, mode="completion",
        sensitive_word_avoidance=_moderation(outputs=False),
    )  # fmt: skip
    client = _client(CompletionClient, app_key(app), asgi_server)
    body = client.create_completion_message({"name": "forbidden"}, "blocking", "u").json()
    assert body["answer"] == "I cannot talk about that."
    assert model_server.requests_to("/chat/completions") == []


def test_flagged_output_is_replaced_streaming_and_blocking(asgi_server, model_server):
    app = chat_app(
        make_workspace(), model_server, sensitive_word_avoidance=_moderation(inputs=False)
    )
    client = _client(ChatClient, app_key(app), asgi_server)
    streamed = client.create_chat_message(
        {"name": "Ada"}, "forbidden question", "u-1", response_mode="streaming"
    )  # inputs are not moderated here: the model is called
    events = list(sse_events(streamed))
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["message_replace", "message_end"]
    replace = events[-2]
    assert replace["answer"] == "[answer withheld]" and replace["reason"] == "output_moderation"
    assert replace["message_id"] and replace["conversation_id"] and replace["task_id"]
    sent = "".join(e["answer"] for e in events if e["event"] == "message")
    assert "capital" not in sent.lower()  # the flagged words never went out
    message = Message.objects.get(pk=replace["message_id"])
    assert message.answer == "[answer withheld]"

    body = client.create_chat_message({"name": "Ada"}, "Capital?", "u-1").json()
    assert body["answer"] == "[answer withheld]"
    assert Message.objects.get(pk=body["id"]).answer == "[answer withheld]"
    background_wait()


def test_unknown_moderation_types_are_a_400(asgi_server, model_server):
    app = chat_app(
        make_workspace(), model_server, sensitive_word_avoidance=_moderation(kind="no_such_type")
    )
    response = requests.post(
        f"{asgi_server}/v1/chat-messages",
        json={"inputs": {"name": "Ada"}, "query": "hi", "user": "u"},
        headers={"Authorization": f"Bearer {app_key(app)}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param"
    assert "not supported" in response.json()["message"]


def _agent_with_dataset(workspace, server, *datasets, show=True, **configs):
    agent_mode = {"enabled": True, "strategy": "function_call", "tools": []}
    return chat_app(
        workspace, server, mode="agent-chat", agent_mode=agent_mode,
        dataset_configs=_dataset_configs(*datasets, **configs),
        retriever_resource={"enabled": show},
    )  # fmt: skip


def _offered(server) -> dict[str, dict]:
    first = answer_requests(server)[0]
    return {t["function"]["name"]: t["function"] for t in first.get("tools") or []}


def test_agent_chat_searches_its_datasets_as_a_tool_and_cites_them(asgi_server, model_server):
    workspace = make_workspace()
    dataset = _dataset(workspace)
    app = _agent_with_dataset(workspace, model_server, dataset)
    tool = f"dataset_{str(workspace.pk).replace('-', '_')}"
    model_server.queue_tool_calls({"name": tool, "arguments": {"query": QUESTIONS["txt"]}})
    client = _client(ChatClient, app_key(app), asgi_server)
    response = client.create_chat_message(
        {"name": "Ada"}, QUESTIONS["txt"], "u-1", response_mode="streaming"
    )
    events = list(sse_events(response))
    assert events[-1]["event"] == "message_end"
    thought = next(e for e in events if e["event"] == "agent_thought" and e["tool"])
    assert thought["tool"] == tool and FACTS["txt"] in thought["observation"]
    resources = events[-1]["metadata"]["retriever_resources"]
    assert resources[0]["document_name"] == "txt.txt" and set(resources[0]) >= RESOURCE_KEYS
    assert resources[0]["message_id"] == events[-1]["message_id"]
    assert [r["position"] for r in resources] == list(range(1, len(resources) + 1))
    # Dify's agent gets no context in its prompt: the model searched, by the tool
    offered = _offered(model_server)
    assert set(offered) == {tool}
    assert offered[tool]["parameters"]["required"] == ["query"]
    requests = answer_requests(model_server)
    assert FACTS["txt"] not in requests[0]["messages"][0]["content"]
    assert CONTEXT_HEAD not in requests[0]["messages"][0]["content"]
    tool_messages = [m for m in requests[1]["messages"] if m["role"] == "tool"]
    assert FACTS["txt"] in tool_messages[0]["content"]
    stored = Message.objects.get(pk=events[-1]["message_id"])
    assert stored.retriever_resources == resources
    listed = client.get_conversation_messages("u-1", events[-1]["conversation_id"]).json()
    assert listed["data"][0]["retriever_resources"] == resources


def test_agent_chat_single_mode_offers_one_tool_per_own_dataset(asgi_server, model_server):
    workspace = make_workspace()
    keeper = _dataset(workspace, "Keeper", kinds=("txt",))
    volcano = _dataset(workspace, "Volcano", kinds=("md",))
    services.dataset_update(dataset=volcano, description="All about\nvolcanoes")
    foreign = _dataset(make_workspace(), "Secret", kinds=("docx",))
    app = _agent_with_dataset(
        workspace, model_server, keeper, volcano, foreign, show=False, retrieval_model="single"
    )
    name = f"dataset_{str(volcano.pk).replace('-', '_')}"
    model_server.queue_tool_calls({"name": name, "arguments": {"query": QUESTIONS["md"]}})
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, QUESTIONS["md"], "u-1").json()
    offered = _offered(model_server)
    keeper_tool = f"dataset_{str(keeper.pk).replace('-', '_')}"
    assert set(offered) == {keeper_tool, name}  # the other workspace's dataset is not offered
    assert offered[name]["description"] == "All aboutvolcanoes"
    assert offered[keeper_tool]["description"] == (
        "useful for when you want to answer queries about the Keeper"
    )
    stored = Message.objects.get(pk=body["id"])
    assert stored.agent_thoughts[0]["tool"] == name
    assert "Kilauea" in stored.agent_thoughts[0]["observation"]
    assert body["metadata"]["retriever_resources"] == []  # citations are off
    assert stored.retriever_resources == []


def test_agent_dataset_tool_without_a_query_asks_for_one(asgi_server, model_server):
    workspace = make_workspace()
    app = _agent_with_dataset(workspace, model_server, _dataset(workspace, kinds=("txt",)))
    tool = f"dataset_{str(workspace.pk).replace('-', '_')}"
    model_server.queue_tool_calls({"name": tool, "arguments": {}})
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, "hi", "u-1").json()
    stored = Message.objects.get(pk=body["id"])
    assert stored.agent_thoughts[0]["observation"] == "please input query"
    assert body["metadata"]["retriever_resources"] == []


def test_single_mode_keeps_the_best_dataset_only(asgi_server, model_server):
    workspace = make_workspace()
    first = _dataset(workspace, "Keeper", kinds=("txt",))
    second = _dataset(workspace, "Volcano", kinds=("md", "docx"))
    configs = _dataset_configs(first, second, retrieval_model="single")
    app = chat_app(
        workspace, model_server, dataset_configs=configs, retriever_resource={"enabled": True}
    )
    client = _client(ChatClient, app_key(app), asgi_server)
    body = client.create_chat_message({"name": "Ada"}, QUESTIONS["md"], "u-1").json()
    resources = body["metadata"]["retriever_resources"]
    assert resources and {r["dataset_name"] for r in resources} == {"Volcano"}
    background_wait()
