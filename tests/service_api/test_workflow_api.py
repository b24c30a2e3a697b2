"""Service API of workflow apps: run (blocking / streaming), versions, stop, detail, logs."""

from __future__ import annotations

import json
import time

import httpx2 as httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.workflows.models import App, WorkflowRun
from apps.workflows.run_services import workflow_publish
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service
from tests.service_api.workflow_helpers import (
    GREETER_INPUTS,
    auth,
    greeter_app,
    llm_app,
    read_sse,
    stream_run,
)

pytestmark = pytest.mark.django_db


def _blocking(key: str, body: dict, path: str = "/v1/workflows/run"):
    return service(key).post(path, {"response_mode": "blocking", **body}, format="json")


# -- streaming ---------------------------------------------------------------------------------


def test_streaming_run_sends_workflow_events_in_order(asgi_server):
    app = greeter_app(make_workspace())
    key = app_key(app)
    frames = stream_run(asgi_server, key, {"inputs": GREETER_INPUTS, "user": "ada"})
    events = [p["event"] for _, p in frames]
    assert events[0] == "workflow_started" and events[-1] == "workflow_finished"
    assert "iteration_started" in events and "iteration_completed" in events
    assert events.count("node_started") == events.count("node_finished")
    assert [i for i, _ in frames] == list(range(1, len(frames) + 1))  # `id:` on every frame
    run_id = frames[0][1]["workflow_run_id"]
    task_ids = {p["task_id"] for _, p in frames}
    assert len(task_ids) == 1 and task_ids != {run_id}
    assert all(p["workflow_run_id"] == run_id for _, p in frames)
    finished = frames[-1][1]["data"]
    assert finished["status"] == "succeeded" and finished["id"] == run_id
    assert finished["outputs"] == {"greeting": "Hello, Ada!", "items": ["A"]}
    assert finished["created_by"]["user"] == "ada"
    run = WorkflowRun.objects.get(pk=run_id)
    assert run.status == "succeeded" and run.created_by_end_user == "ada"
    assert str(run.workflow_id) == str(app.published_workflow_id) == finished["workflow_id"]


def test_llm_text_chunks_stream_before_the_llm_node_finishes(asgi_server, fake_openai):
    fake_openai.reply_text = "Ada wrote the first program for a machine."
    fake_openai.chunk_delay = 0.02
    app = llm_app(make_workspace(), fake_openai)
    frames = stream_run(asgi_server, app_key(app), {"inputs": {"topic": "Ada"}, "user": "u"})
    payloads = [p for _, p in frames]
    chunks = [i for i, p in enumerate(payloads) if p["event"] == "text_chunk"]
    llm_done = next(
        i
        for i, p in enumerate(payloads)
        if p["event"] == "node_finished" and p["data"]["node_id"] == "llm"
    )
    assert len(chunks) > 3 and max(chunks) < llm_done
    text = "".join(payloads[i]["data"]["text"] for i in chunks)
    assert text == fake_openai.reply_text
    assert payloads[-1]["data"]["outputs"] == {"text": fake_openai.reply_text}
    assert payloads[-1]["data"]["total_tokens"] > 0


# -- blocking ----------------------------------------------------------------------------------


def test_blocking_run_returns_the_finished_run():
    app = greeter_app(make_workspace())
    key = app_key(app)
    response = _blocking(key, {"inputs": GREETER_INPUTS, "user": "ada"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"task_id", "workflow_run_id", "data"}
    assert body["task_id"] != body["workflow_run_id"]
    data = body["data"]
    expected = {"id", "workflow_id", "status", "outputs", "error", "elapsed_time",
                "total_tokens", "total_steps", "created_at", "finished_at"}  # fmt: skip
    assert expected <= set(data)
    assert data["id"] == body["workflow_run_id"] and data["status"] == "succeeded"
    assert data["outputs"] == {"greeting": "Hello, Ada!", "items": ["A"]}
    assert data["error"] is None and data["total_steps"] > 0
    assert isinstance(data["created_at"], int) and data["finished_at"] >= data["created_at"]

    detail = service(key).get(f"/v1/workflows/run/{body['workflow_run_id']}").json()
    assert detail["status"] == "succeeded" and detail["outputs"] == data["outputs"]
    assert detail["workflow_id"] == data["workflow_id"]
    inputs = json.loads(detail["inputs"])
    assert inputs["name"] == "Ada" and inputs["sys.user_id"] == "ada"
    assert set(detail) == {"id", "workflow_id", "status", "inputs", "outputs", "error",
                           "total_steps", "total_tokens", "created_at", "finished_at",
                           "elapsed_time"}  # fmt: skip


def test_response_mode_defaults_to_blocking():
    app = greeter_app(make_workspace())
    response = service(app_key(app)).post(
        "/v1/workflows/run", {"inputs": GREETER_INPUTS, "user": "u"}, format="json"
    )
    assert response.status_code == 200 and response.json()["data"]["status"] == "succeeded"


def test_bad_inputs_are_rejected_before_any_run():
    app = greeter_app(make_workspace())
    key = app_key(app)
    cases = [
        ({"bag": {"items": []}}, "name is required"),
        ({"name": "x" * 49}, "less than 48 characters"),
        ({"name": 7}, "must be a string"),
        ({"name": "Ada", "bag": [1]}, "JSON object"),
    ]
    for inputs, message in cases:
        body = assert_dify_error(
            _blocking(key, {"inputs": inputs, "user": "u"}), 400, "invalid_param"
        )
        assert message in body["message"]
    for bad in ({"user": "u"}, {"inputs": "Ada", "user": "u"}):
        assert_dify_error(_blocking(key, bad), 400, "invalid_param")
    bad_mode = {"inputs": GREETER_INPUTS, "user": "u", "response_mode": "fast"}
    assert_dify_error(service(key).post("/v1/workflows/run", bad_mode, format="json"), 400,
                      "invalid_param")  # fmt: skip
    files = {"inputs": GREETER_INPUTS, "user": "u", "files": "x"}
    assert_dify_error(_blocking(key, files), 400, "invalid_param")
    assert not WorkflowRun.objects.filter(app=app).exists()


def test_run_needs_a_published_workflow():
    app = greeter_app(make_workspace(), publish=False)
    body = assert_dify_error(
        _blocking(app_key(app), {"inputs": GREETER_INPUTS, "user": "u"}), 400, "invalid_param"
    )
    assert body["message"] == "Workflow not published"
    assert not WorkflowRun.objects.filter(app=app).exists()


def test_run_a_specific_published_version():
    app = greeter_app(make_workspace())
    first = app.published_workflow
    assert first is not None
    second = workflow_publish(app=app)
    key = app_key(app)
    path = f"/v1/workflows/{first.pk}/run"
    body = _blocking(key, {"inputs": GREETER_INPUTS, "user": "u"}, path).json()
    assert body["data"]["workflow_id"] == str(first.pk) != str(second.pk)
    latest = _blocking(key, {"inputs": GREETER_INPUTS, "user": "u"}).json()
    assert latest["data"]["workflow_id"] == str(second.pk)

    draft = app.workflows.get(version="draft")
    run = {"inputs": GREETER_INPUTS, "user": "u"}
    assert_dify_error(_blocking(key, run, f"/v1/workflows/{draft.pk}/run"), 400, "bad_request")
    unknown = "/v1/workflows/00000000-0000-0000-0000-000000000000/run"
    assert_dify_error(_blocking(key, run, unknown), 404, "not_found")
    assert_dify_error(_blocking(key, run, "/v1/workflows/nope/run"), 400, "bad_request")
    other = greeter_app(make_workspace())  # another tenant's version is unknown here
    other_path = f"/v1/workflows/{other.published_workflow_id}/run"
    assert_dify_error(_blocking(key, run, other_path), 404, "not_found")


def test_failed_run_is_reported_in_the_blocking_answer(fake_openai):
    workspace = make_workspace()
    app = llm_app(workspace, fake_openai)
    fake_openai.fail_next(500, "upstream broke", times=5)
    body = _blocking(app_key(app), {"inputs": {"topic": "x"}, "user": "u"}).json()
    assert body["data"]["status"] == "failed" and body["data"]["error"]


# -- stop --------------------------------------------------------------------------------------


def test_stop_from_a_second_request_ends_the_run(asgi_server, fake_openai):
    fake_openai.reply_text = " ".join(f"word{i}" for i in range(200))
    fake_openai.chunk_delay = 0.05
    app = llm_app(make_workspace(), fake_openai)
    key = app_key(app)
    stop_answers: list[dict] = []
    frames: list[dict] = []
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", headers=auth(key), timeout=30,
        json={"inputs": {"topic": "x"}, "user": "ada", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        for _, payload in read_sse(response):
            frames.append(payload)
            if payload["event"] == "text_chunk" and not stop_answers:
                url = f"{asgi_server}/v1/workflows/tasks/{payload['task_id']}/stop"
                # another user's stop is ignored (Dify answers success all the same)
                other = httpx.post(url, json={"user": "eve"}, headers=auth(key), timeout=10)
                assert other.status_code == 200 and other.json() == {"result": "success"}
                time.sleep(0.3)
                own = httpx.post(url, json={"user": "ada"}, headers=auth(key), timeout=10)
                stop_answers.append(own.json())
    assert stop_answers == [{"result": "success"}]
    finished = frames[-1]
    assert finished["event"] == "workflow_finished" and finished["data"]["status"] == "stopped"
    chunks = sum(1 for p in frames if p["event"] == "text_chunk")
    assert 3 < chunks < 150  # kept streaming after eve's request, stopped after ada's
    run_id = finished["workflow_run_id"]
    deadline = time.monotonic() + 5
    while WorkflowRun.objects.get(pk=run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert WorkflowRun.objects.get(pk=run_id).status == "stopped"
    detail = httpx.get(f"{asgi_server}/v1/workflows/run/{run_id}", headers=auth(key)).json()
    assert detail["status"] == "stopped"


def test_stop_needs_user_and_a_workflow_app():
    app = greeter_app(make_workspace())
    path = "/v1/workflows/tasks/00000000-0000-0000-0000-000000000000/stop"
    client = service(app_key(app))
    assert_dify_error(client.post(path, {}, format="json"), 400, "invalid_param")
    unknown = client.post(path, {"user": "u"}, format="json")
    assert unknown.status_code == 200 and unknown.json() == {"result": "success"}
    chat = service(app_key(make_app(make_workspace(), mode="chat")))
    assert_dify_error(chat.post(path, {"user": "u"}, format="json"), 400, "not_workflow_app")


# -- run detail and logs -------------------------------------------------------------------------


def test_run_detail_is_only_for_the_runs_app():
    workspace = make_workspace()
    app = greeter_app(workspace)
    key = app_key(app)
    run_id = _blocking(key, {"inputs": GREETER_INPUTS, "user": "u"}).json()["workflow_run_id"]
    assert service(key).get(f"/v1/workflows/run/{run_id}").status_code == 200
    sibling = greeter_app(workspace)  # same workspace, another app
    for other in (app_key(sibling), app_key(greeter_app(make_workspace()))):
        response = service(other).get(f"/v1/workflows/run/{run_id}")
        assert_dify_error(response, 404, "not_found")
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert_dify_error(service(key).get(f"/v1/workflows/run/{bad}"), 404, "not_found")


def _run_as(key: str, user: str, name: str) -> str:
    body = _blocking(key, {"inputs": {"name": name, "bag": {"items": []}}, "user": user})
    return body.json()["workflow_run_id"]


def test_logs_list_runs_newest_first_with_filters():
    app = greeter_app(make_workspace())
    key = app_key(app)
    first = _run_as(key, "ada", "Ada")
    second = _run_as(key, "bob", "Bob")
    third = _run_as(key, "ada", "Grace")
    client = service(key)
    body = client.get("/v1/workflows/logs").json()
    assert set(body) == {"page", "limit", "total", "has_more", "data"}
    assert (body["page"], body["limit"], body["total"], body["has_more"]) == (1, 20, 3, False)
    assert [item["id"] for item in body["data"]] == [third, second, first]
    item = body["data"][0]
    assert item["workflow_run"]["id"] == third and item["workflow_run"]["status"] == "succeeded"
    assert item["workflow_run"]["version"] == app.published_workflow.version
    assert item["created_from"] == "service-api" and item["created_by_role"] == "end_user"
    assert item["created_by_account"] is None
    end_user = item["created_by_end_user"]
    assert end_user["session_id"] == "ada" and end_user["is_anonymous"] is False
    assert set(end_user) == {"id", "type", "is_anonymous", "session_id"}

    by_user = client.get("/v1/workflows/logs", {"created_by_end_user_session_id": "ada"}).json()
    assert [i["id"] for i in by_user["data"]] == [third, first]
    assert client.get("/v1/workflows/logs", {"keyword": "Grace"}).json()["total"] == 1
    assert client.get("/v1/workflows/logs", {"status": "failed"}).json()["total"] == 0
    paged = client.get("/v1/workflows/logs", {"page": 1, "limit": 2}).json()
    assert len(paged["data"]) == 2 and paged["has_more"] is True
    last = client.get("/v1/workflows/logs", {"page": 2, "limit": 2}).json()
    assert [i["id"] for i in last["data"]] == [first] and last["has_more"] is False
    future = client.get("/v1/workflows/logs", {"created_at__after": "2999-01-01T00:00:00Z"})
    assert future.json()["total"] == 0
    before = client.get("/v1/workflows/logs", {"created_at__before": "2999-01-01T00:00:00Z"})
    assert before.json()["total"] == 3

    for bad in ({"limit": 0}, {"limit": 101}, {"page": 0}, {"status": "nope"},
                {"created_at__before": "yesterday"}):  # fmt: skip
        assert_dify_error(client.get("/v1/workflows/logs", bad), 400, "invalid_param")
    other = service(app_key(greeter_app(make_workspace()))).get("/v1/workflows/logs").json()
    assert other["total"] == 0 and other["data"] == []


def test_logs_take_the_same_few_queries_for_any_number_of_runs():
    app = greeter_app(make_workspace())
    key = app_key(app)
    client = service(key)

    def queries() -> int:
        client.get("/v1/workflows/logs")  # warms the key cache (2 s TTL): count the call only
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/v1/workflows/logs").status_code == 200
        return len(captured)

    _run_as(key, "ada", "Ada")
    one = queries()
    for user in ("bob", "cy", "dee"):
        _run_as(key, user, user)
    assert queries() == one <= 6


# -- auth, app modes ---------------------------------------------------------------------------


ENDPOINTS = [
    ("post", "/v1/workflows/run", {"inputs": {}, "user": "u"}),
    ("post", "/v1/workflows/tasks/t/stop", {"user": "u"}),
    ("get", "/v1/workflows/run/00000000-0000-0000-0000-000000000000", None),
    ("get", "/v1/workflows/logs", None),
    ("get", "/v1/workflow/00000000-0000-0000-0000-000000000000/events?user=u", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_keys_and_app_modes_are_checked(method, path, body):
    workspace = make_workspace()
    app = greeter_app(workspace)

    def call(key: str | None):
        client = service(key) if key else APIClient()
        request = getattr(client, method)
        return request(path, body, format="json") if body else request(path)

    assert_dify_error(call(None), 401, "unauthorized")
    assert_dify_error(call("app-wrong"), 401, "unauthorized")
    key = app_key(app)
    App.objects.filter(pk=app.pk).update(enable_api=False)
    assert_dify_error(call(key), 403, "forbidden")
    chat_key = app_key(make_app(workspace, mode="chat"))
    assert_dify_error(call(chat_key), 400, "not_workflow_app")


def test_run_is_only_for_workflow_apps_not_chatflows():
    app = make_app(make_workspace(), mode="advanced-chat")
    response = _blocking(app_key(app), {"inputs": {}, "user": "u"})
    assert_dify_error(response, 400, "not_workflow_app")


def test_streaming_run_keeps_running_when_the_client_goes(asgi_server, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(20))
    fake_openai.chunk_delay = 0.02
    app = llm_app(make_workspace(), fake_openai)
    run_id = ""
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", headers=auth(app_key(app)), timeout=30,
        json={"inputs": {"topic": "x"}, "user": "u", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        for _, payload in read_sse(response):
            run_id = payload["workflow_run_id"]
            break  # the client leaves after the first event
    deadline = time.monotonic() + 10
    while WorkflowRun.objects.get(pk=run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    run = WorkflowRun.objects.get(pk=run_id)
    assert run.status == "succeeded" and run.outputs == {"text": fake_openai.reply_text}


def test_dify_client_runs_a_workflow_blocking_and_streaming(asgi_server, fake_openai):
    """dify-client 0.1.10 (the newest on PyPI) has no workflow methods; its request helper,
    which all of its methods use, drives the workflow routes here as a Dify user's code would."""
    from dify_client import DifyClient

    from tests.service_api.chat_support import sse_events

    fake_openai.reply_text = "Notes on tides."
    app = llm_app(make_workspace(), fake_openai)
    client = DifyClient(app_key(app))
    client.base_url = asgi_server + "/v1"
    run = {"inputs": {"topic": "tides"}, "user": "u-1"}
    blocking = client._send_request(
        "POST", "/workflows/run", json={**run, "response_mode": "blocking"}
    )
    assert blocking.status_code == 200, blocking.text
    data = blocking.json()["data"]
    assert data["status"] == "succeeded" and data["outputs"] == {"text": "Notes on tides."}
    detail = client._send_request("GET", f"/workflows/run/{data['id']}").json()
    assert detail["id"] == data["id"] and detail["status"] == "succeeded"

    streamed = client._send_request(
        "POST", "/workflows/run", json={**run, "response_mode": "streaming"}, stream=True
    )
    assert streamed.headers["Content-Type"].startswith("text/event-stream")
    events = list(sse_events(streamed))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_finished"
    assert kinds.count("node_started") == kinds.count("node_finished") == 3
    assert events[-1]["data"]["outputs"] == {"text": "Notes on tides."}
    logs = client._send_request("GET", "/workflows/logs").json()
    assert logs["total"] == 2


def test_another_workspaces_key_cannot_stop_a_workflow_run(asgi_server, fake_openai):
    """A stop with another workspace's key gets Dify's "success" and the run goes on."""
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(10))
    fake_openai.chunk_delay = 0.05
    app = llm_app(make_workspace(), fake_openai)
    other_key = app_key(greeter_app(make_workspace()))
    body = {"inputs": {"topic": "x"}, "user": "u-1", "response_mode": "streaming"}
    finished = None
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", json=body, headers=auth(app_key(app)),
        timeout=30,
    ) as response:  # fmt: skip
        for _, event in read_sse(response):
            if event["event"] == "workflow_started":
                answer = httpx.post(
                    f"{asgi_server}/v1/workflows/tasks/{event['task_id']}/stop",
                    json={"user": "u-1"}, headers=auth(other_key), timeout=10,
                )  # fmt: skip
                assert answer.status_code == 200 and answer.json() == {"result": "success"}
            if event["event"] == "workflow_finished":
                finished = event
    assert finished is not None and finished["data"]["status"] == "succeeded"
    assert WorkflowRun.objects.get(pk=finished["workflow_run_id"]).status == "succeeded"
