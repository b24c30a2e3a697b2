"""Annotation reply end to end: the enable job embeds (real HTTP to the fake embedding
server, pgvector cosine search in PostgreSQL), a close enough chat query is answered with
the annotation without a chat-model call, blocking and streaming; disable brings the model
back."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from apps.workflows.chat.task import background_wait
from apps.workflows.models import (
    Annotation,
    AnnotationHitHistory,
    AnnotationReplyJob,
    AnnotationReplySetting,
    Message,
)
from tests.factories import app_key, make_workspace, owner_of, service
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.annotation_support import EMBED_MODEL, add, annotated_app, cosine, enable
from tests.service_api.chat_support import sse_events

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What are your opening hours?"
ANSWER = "We are open 9 to 5, Monday to Friday."
MODEL_TEXT = "Hello from the fake model."
# the fake embeddings are deterministic: this query is far from QUESTION (checked below)
OTHER = "Tell me a joke about penguins"


@pytest.fixture
def model_server():
    with FakeOpenAIServer(reply_text=MODEL_TEXT) as server:
        yield server


def chat(base: str, key: str, query: str, *, streaming: bool = False, user: str = "u-1",
         conversation_id: str | None = None) -> Any:  # fmt: skip
    body: dict[str, Any] = {"inputs": {}, "query": query, "user": user, "auto_generate_name": False,
            "response_mode": "streaming" if streaming else "blocking"}  # fmt: skip
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = requests.post(
        f"{base}/v1/chat-messages", json=body, headers={"Authorization": f"Bearer {key}"},
        stream=streaming, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return list(sse_events(response)) if streaming else response.json()


def chat_calls(server: FakeOpenAIServer) -> int:
    return len(server.requests_to("/chat/completions"))


def _setup(server: FakeOpenAIServer, mode: str = "chat", threshold: float = 0.9):
    app = annotated_app(make_workspace(), server, mode=mode)
    client = service(app_key(app))
    annotation = add(client, QUESTION, ANSWER)
    job = enable(client, threshold)
    return app, client, annotation, job


def test_enable_job_completes_and_embeds_every_annotation(model_server):
    app = annotated_app(make_workspace(), model_server)
    client = service(app_key(app))
    for i in range(3):
        add(client, f"Question number {i}?", f"Answer {i}.")
    assert model_server.requests_to("/embeddings") == []  # reply off: nothing embedded yet
    job = enable(client, 0.85)
    assert set(job) == {"job_id", "job_status"} and job["job_status"] == "completed"
    status = client.get(f"/v1/apps/annotation-reply/enable/status/{job['job_id']}").json()
    assert status == {"job_id": job["job_id"], "job_status": "completed", "error_msg": ""}
    for annotation in Annotation.objects.filter(app=app):
        assert annotation.embedding_model == EMBED_MODEL and len(annotation.embedding) == 8
    assert AnnotationReplyJob.objects.get(pk=job["job_id"]).embedded == 3
    setting = AnnotationReplySetting.objects.get(app=app)
    assert setting.enabled and setting.score_threshold == 0.85
    params = client.get("/v1/parameters").json()["annotation_reply"]
    assert params == {
        "id": str(setting.pk), "enabled": True, "score_threshold": 0.85,
        "embedding_model": {"embedding_provider_name": "openai_api_compatible",
                            "embedding_model_name": EMBED_MODEL},
    }  # fmt: skip


def test_matching_query_is_answered_with_the_annotation_without_a_model_call(
    asgi_server, model_server
):
    app, client, annotation, _ = _setup(model_server)
    before = chat_calls(model_server)
    body = chat(asgi_server, app_key(app), QUESTION)
    assert chat_calls(model_server) == before == 0
    assert body["answer"] == ANSWER and body["mode"] == "chat"
    owner = owner_of(app.workspace)
    assert body["metadata"]["annotation_reply"] == {
        "id": annotation["id"], "account": {"id": str(owner.pk), "name": owner.email.split("@")[0]},
    }  # fmt: skip
    assert body["metadata"]["usage"]["total_tokens"] == 0
    assert body["metadata"]["retriever_resources"] == []
    message = Message.objects.get(pk=body["id"])
    assert message.answer == ANSWER and message.query == QUESTION
    assert str(message.conversation_id) == body["conversation_id"]
    hit = message.annotation_hits.get()  # the stored message links the annotation
    assert str(hit.annotation_id) == annotation["id"] and hit.question == QUESTION
    assert hit.score == pytest.approx(1.0) and hit.source == "api"
    assert (hit.annotation_question, hit.annotation_content) == (QUESTION, ANSWER)
    assert hit.end_user.session_id == "u-1"
    chat(asgi_server, app_key(app), QUESTION, conversation_id=body["conversation_id"])
    listed = client.get("/v1/apps/annotations").json()["data"][0]
    assert listed["hit_count"] == 2 and AnnotationHitHistory.objects.count() == 2
    assert chat_calls(model_server) == 0
    messages = requests.get(
        f"{asgi_server}/v1/messages",
        params={"user": "u-1", "conversation_id": body["conversation_id"]},
        headers={"Authorization": f"Bearer {app_key(app)}"}, timeout=30,
    ).json()["data"]  # fmt: skip
    assert [m["answer"] for m in messages] == [ANSWER, ANSWER]


def test_streaming_hit_sends_the_annotation_as_message_then_message_end(asgi_server, model_server):
    app, _, annotation, _ = _setup(model_server)
    events = chat(asgi_server, app_key(app), QUESTION, streaming=True)
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert events[0]["answer"] == ANSWER
    end = events[-1]
    assert end["metadata"]["annotation_reply"]["id"] == annotation["id"]
    assert end["message_id"] == events[0]["message_id"] and end["conversation_id"]
    assert chat_calls(model_server) == 0
    message = Message.objects.get(pk=end["message_id"])
    assert message.answer == ANSWER and message.annotation_hits.count() == 1
    assert Annotation.objects.get(pk=annotation["id"]).hit_count == 1


def test_query_below_the_threshold_goes_to_the_model(asgi_server, model_server):
    assert cosine(OTHER, QUESTION) < 0.9
    app, _, annotation, _ = _setup(model_server, threshold=0.9)
    body = chat(asgi_server, app_key(app), OTHER)
    assert body["answer"] == MODEL_TEXT and chat_calls(model_server) == 1
    assert "annotation_reply" not in body["metadata"]
    events = chat(asgi_server, app_key(app), OTHER, streaming=True)
    assert "annotation_reply" not in events[-1]["metadata"] and chat_calls(model_server) == 2
    assert Annotation.objects.get(pk=annotation["id"]).hit_count == 0
    assert not AnnotationHitHistory.objects.exists()


def test_threshold_is_a_cosine_similarity_floor_and_the_nearest_annotation_wins(
    asgi_server, model_server
):
    candidates = ["When do you open?", "Opening times please", "hours?", "Are you open now?"]
    query = next(q for q in candidates if 0.2 < cosine(q, QUESTION) < 0.95)
    score = cosine(query, QUESTION)
    app = annotated_app(make_workspace(), model_server)
    client = service(app_key(app))
    add(client, QUESTION, ANSWER)
    far = next(t for t in (f"Unrelated topic {i}" for i in range(100)) if cosine(t, query) < score)
    add(client, far, "Not this one.")
    enable(client, score + 0.01)
    assert chat(asgi_server, app_key(app), query)["answer"] == MODEL_TEXT
    enable(client, score - 0.01)  # enabling again changes the threshold
    body = chat(asgi_server, app_key(app), query)
    assert body["answer"] == ANSWER and chat_calls(model_server) == 1
    assert AnnotationHitHistory.objects.get().score == pytest.approx(score, abs=1e-4)


def test_disable_brings_the_model_back_and_drops_the_embeddings(asgi_server, model_server):
    app, client, annotation, _ = _setup(model_server)
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == ANSWER
    job = client.post("/v1/apps/annotation-reply/disable", {}, format="json").json()
    assert job["job_status"] == "completed"
    status = client.get(f"/v1/apps/annotation-reply/disable/status/{job['job_id']}").json()
    assert status["job_status"] == "completed" and status["error_msg"] == ""
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == MODEL_TEXT
    assert chat_calls(model_server) == 1
    stored = Annotation.objects.get(pk=annotation["id"])
    assert stored.embedding is None and stored.hit_count == 1
    assert client.get("/v1/parameters").json()["annotation_reply"] == {"enabled": False}
    again = client.post("/v1/apps/annotation-reply/disable", {}, format="json").json()
    assert again["job_status"] == "completed"  # disabling twice is fine


def test_annotation_added_or_changed_while_enabled_is_embedded_and_hits(asgi_server, model_server):
    app = annotated_app(make_workspace(), model_server)
    client = service(app_key(app))
    enable(client)  # no annotations yet
    created = add(client, QUESTION, ANSWER)
    stored = Annotation.objects.get(pk=created["id"])
    assert stored.embedding_model == EMBED_MODEL and stored.embedding is not None
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == ANSWER
    new_question = "Do you deliver on weekends?"
    assert cosine(new_question, QUESTION) < 0.9
    changed = client.put(
        f"/v1/apps/annotations/{created['id']}",
        {"question": new_question, "answer": "Yes, on Saturdays."}, format="json",
    )  # fmt: skip
    assert changed.status_code == 200
    assert chat(asgi_server, app_key(app), new_question)["answer"] == "Yes, on Saturdays."
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == MODEL_TEXT  # the old one
    client.put(f"/v1/apps/annotations/{created['id']}",
               {"question": new_question, "answer": "Sundays too."}, format="json")  # fmt: skip
    assert chat(asgi_server, app_key(app), new_question)["answer"] == "Sundays too."
    client.delete(f"/v1/apps/annotations/{created['id']}")
    assert chat(asgi_server, app_key(app), new_question)["answer"] == MODEL_TEXT
    assert not AnnotationHitHistory.objects.exists()  # deleted with the annotation


def test_agent_chat_hit_skips_the_agent_loop(asgi_server, model_server):
    app, _, annotation, _ = _setup(model_server, mode="agent-chat")
    body = chat(asgi_server, app_key(app), QUESTION)
    assert body["answer"] == ANSWER and body["mode"] == "agent-chat"
    assert body["metadata"]["annotation_reply"]["id"] == annotation["id"]
    events = chat(asgi_server, app_key(app), QUESTION, streaming=True)
    assert [e["event"] for e in events] == ["message", "message_end"]
    assert chat_calls(model_server) == 0


def test_completion_apps_do_not_use_annotation_reply(asgi_server, model_server):
    app, _, annotation, job = _setup(model_server, mode="completion")
    assert job["job_status"] == "completed"
    response = requests.post(
        f"{asgi_server}/v1/completion-messages",
        json={"inputs": {"query": QUESTION}, "user": "u", "response_mode": "blocking"},
        headers={"Authorization": f"Bearer {app_key(app)}"}, timeout=30,
    )  # fmt: skip
    assert response.json()["answer"] == MODEL_TEXT and chat_calls(model_server) == 1
    assert Annotation.objects.get(pk=annotation["id"]).hit_count == 0


def test_flagged_input_answers_the_preset_before_annotation_reply(asgi_server, model_server):
    app, _, _, _ = _setup(model_server)
    app.model_config["sensitive_word_avoidance"] = {
        "enabled": True, "type": "keywords",
        "config": {"keywords": "opening", "inputs_config": {
            "enabled": True, "preset_response": "I cannot talk about that."}},
    }  # fmt: skip
    app.save()
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == "I cannot talk about that."
    assert not AnnotationHitHistory.objects.exists() and chat_calls(model_server) == 0


def test_failing_embedding_call_lets_the_model_answer(asgi_server, model_server):
    app, _, _, _ = _setup(model_server)
    model_server.fail_next(400, "embedding refused")
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == MODEL_TEXT
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == ANSWER


def test_failed_enable_job_reports_error_and_leaves_reply_off(asgi_server, model_server):
    app = annotated_app(make_workspace(), model_server)
    client = service(app_key(app))
    add(client, QUESTION, ANSWER)
    model_server.fail_next(400, "quota exceeded for embeddings")
    job = enable(client)
    assert job["job_status"] == "error"
    status = client.get(f"/v1/apps/annotation-reply/enable/status/{job['job_id']}").json()
    assert status["job_status"] == "error" and "quota exceeded" in status["error_msg"]
    assert not AnnotationReplySetting.objects.filter(app=app, enabled=True).exists()
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == MODEL_TEXT
    assert enable(client)["job_status"] == "completed"  # a retry works
    assert chat(asgi_server, app_key(app), QUESTION)["answer"] == ANSWER


def test_a_job_under_way_is_joined_not_repeated(model_server):
    app = annotated_app(make_workspace(), model_server)
    client = service(app_key(app))
    running = AnnotationReplyJob.objects.create(
        workspace=app.workspace, app=app, action="enable", status="processing",
        score_threshold=0.9, embedding_provider="openai_api_compatible",
        embedding_model=EMBED_MODEL,
    )  # fmt: skip
    joined = enable(client)
    assert joined == {"job_id": str(running.pk), "job_status": "processing"}
    assert AnnotationReplyJob.objects.count() == 1
    disable = client.post("/v1/apps/annotation-reply/disable", {}, format="json").json()
    assert disable["job_id"] != str(running.pk)  # the other action is its own job


def test_advanced_chat_hit_answers_without_running_the_workflow(asgi_server):
    from apps.providers.services import provider_credentials_set
    from apps.workflows.dsl_services import app_import_dsl
    from apps.workflows.models import WorkflowRun
    from tests.service_api.annotation_support import connect_models
    from tests.service_api.chat_support import DSL_DIR

    with FakeOpenAIServer(models=("gpt-4o-mini", "fake-chat", EMBED_MODEL)) as server:
        workspace = make_workspace()
        provider_credentials_set(
            workspace=workspace, provider_name="openai", validate=False,
            credentials={"openai_api_key": server.api_key, "openai_api_base": server.base_url},
        )  # fmt: skip
        connect_models(workspace, server)  # the embedding model
        text = (DSL_DIR / "llm_chat.yml").read_text()
        app = app_import_dsl(workspace=workspace, text=text, publish=True).app
        client = service(app_key(app))
        annotation = add(client, QUESTION, ANSWER)
        assert enable(client)["job_status"] == "completed"
        events = chat(asgi_server, app_key(app), QUESTION, streaming=True)
        assert [e["event"] for e in events] == ["message", "message_end"]
        assert events[0]["answer"] == ANSWER
        assert events[-1]["metadata"]["annotation_reply"]["id"] == annotation["id"]
        body = chat(asgi_server, app_key(app), QUESTION)
        assert body["answer"] == ANSWER and body["mode"] == "advanced-chat"
        assert chat_calls(server) == 0 and not WorkflowRun.objects.filter(app=app).exists()
        missed = chat(asgi_server, app_key(app), "Say hello")
        assert missed["answer"] == "Answer: Hello from the fake model." and chat_calls(server) == 1
    background_wait()
