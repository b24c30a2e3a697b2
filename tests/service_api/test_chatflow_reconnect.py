"""A chatflow's stream is resumable like a workflow's: ``GET /v1/workflow/{run_id}/events``
with Last-Event-ID sends every event the client missed, in order, up to ``message_end``."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from apps.providers.services import provider_credentials_set
from apps.workflows.chat.task import background_wait
from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import Message
from tests.factories import app_key, assert_dify_error, make_workspace, service
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import DSL_DIR
from tests.service_api.workflow_helpers import auth, read_sse, run_events

pytestmark = pytest.mark.django_db(transaction=True)
WORDS = " ".join(f"w{i}" for i in range(30))


@pytest.fixture
def model_server():
    with FakeOpenAIServer(models=("gpt-4o-mini",), reply_text=WORDS, chunk_delay=0.01) as server:
        yield server


def _chatflow(server: FakeOpenAIServer):
    workspace = make_workspace()
    provider_credentials_set(
        workspace=workspace, provider_name="openai",
        credentials={"openai_api_key": server.api_key, "openai_api_base": server.base_url},
        validate=False,
    )  # fmt: skip
    text = (DSL_DIR / "llm_chat.yml").read_text()
    return app_import_dsl(workspace=workspace, text=text, publish=True).app


def _chat_stream(base: str, key: str, stop_after: int | None = None):
    frames = []
    with httpx.stream(
        "POST", base + "/v1/chat-messages", headers=auth(key), timeout=30,
        json={"inputs": {}, "query": "hello", "user": "ada", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        assert response.status_code == 200
        for frame in read_sse(response):
            frames.append(frame)
            if (
                stop_after is not None
                and frame[1]["event"] == "message"
                and len(frames) >= stop_after
            ):
                break  # the client drops the connection mid-answer
    return frames


def test_a_dropped_chatflow_stream_resumes_with_exactly_the_rest(asgi_server, model_server):
    app = _chatflow(model_server)
    key = app_key(app)
    first = _chat_stream(asgi_server, key, stop_after=6)
    run_id = first[0][1]["workflow_run_id"]
    last_id = first[-1][0]
    assert last_id == len(first)
    rest = run_events(asgi_server, key, run_id, "ada", headers={"Last-Event-ID": str(last_id)})
    assert rest[0][0] == last_id + 1
    kinds = [p["event"] for _, p in rest]
    assert kinds[-1] == "message_end" and "workflow_finished" in kinds
    everything = run_events(asgi_server, key, run_id, "ada")
    assert first + rest == everything
    assert [i for i, _ in everything] == list(range(1, len(everything) + 1))
    answer = "".join(p["answer"] for _, p in everything if p["event"] == "message")
    assert answer == f"Answer: {WORDS}"  # the chatflow's answer node: "Answer: {{#llm.text#}}"
    message_id = everything[-1][1]["message_id"]
    assert Message.objects.get(pk=message_id).answer == answer  # the run went on and was stored
    background_wait()


def test_a_whole_chatflow_stream_replays_after_the_end(asgi_server, model_server):
    app = _chatflow(model_server)
    key = app_key(app)
    streamed = _chat_stream(asgi_server, key)
    assert streamed[-1][1]["event"] == "message_end"
    run_id = streamed[0][1]["workflow_run_id"]
    assert run_events(asgi_server, key, run_id, "ada") == streamed
    last = str(streamed[-1][0])
    assert run_events(asgi_server, key, run_id, "ada", headers={"Last-Event-ID": last}) == []
    other_user = service(key).get(f"/v1/workflow/{run_id}/events", {"user": "bob"})
    assert_dify_error(other_user, 404, "not_found")
    background_wait()
