"""Reconnecting to a workflow run's stream: ``GET /v1/workflow/{run_id}/events``; and the
run event stores behind it (in-process, Redis)."""

from __future__ import annotations

import os
import threading
import time
import uuid

import httpx2 as httpx
import pytest

from apps.workflows.run_events_store import MemoryRunEventStore, RedisRunEventStore
from apps.workflows.run_services import workflow_run_start
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service
from tests.service_api.workflow_helpers import (
    GREETER_INPUTS,
    auth,
    greeter_app,
    llm_app,
    read_sse,
    run_events,
    stream_run,
)

pytestmark = pytest.mark.django_db


# -- the stores --------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryRunEventStore()
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    return RedisRunEventStore(url)


def test_store_numbers_events_and_reads_after_a_sequence_number(store):
    run_id = str(uuid.uuid4())
    assert store.last_seq(run_id) == 0 and store.read(run_id, 0) == []
    for n in range(5):
        assert store.append(run_id, {"event": "node_started", "n": n}) == n + 1
    assert [seq for seq, _ in store.read(run_id, 0)] == [1, 2, 3, 4, 5]
    assert [p["n"] for _, p in store.read(run_id, 3)] == [3, 4]
    assert store.read(run_id, 5) == [] and store.last_seq(run_id) == 5
    store.close(run_id)
    assert store.read(str(uuid.uuid4()), 0) == []


def test_store_read_waits_for_the_next_event(store):
    run_id = str(uuid.uuid4())
    store.append(run_id, {"event": "workflow_started"})
    timer = threading.Timer(0.2, store.append, (run_id, {"event": "workflow_finished"}))
    timer.start()
    started = time.monotonic()
    events = store.read(run_id, 1, timeout=5)
    assert [p["event"] for _, p in events] == ["workflow_finished"]
    assert 0.1 < time.monotonic() - started < 3
    started = time.monotonic()
    assert store.read(run_id, 2, timeout=0.2) == []
    assert time.monotonic() - started >= 0.15


def test_memory_store_forgets_the_oldest_runs_beyond_its_limit():
    store = MemoryRunEventStore(max_runs=2)
    runs = [str(uuid.uuid4()) for _ in range(3)]
    for run_id in runs:
        store.append(run_id, {"event": "workflow_started"})
    assert [store.last_seq(r) for r in runs] == [0, 1, 1]
    expiring = MemoryRunEventStore(ttl=0)
    expiring.append(runs[0], {"event": "workflow_started"})
    expiring.append(runs[1], {"event": "workflow_started"})
    assert expiring.last_seq(runs[0]) == 0


# -- reconnecting ------------------------------------------------------------------------------


def test_reconnect_after_the_first_events_gets_exactly_the_rest(asgi_server, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(30))
    fake_openai.chunk_delay = 0.03
    app = llm_app(make_workspace(), fake_openai)
    key = app_key(app)
    first: list[tuple[int | None, dict]] = []
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", headers=auth(key), timeout=30,
        json={"inputs": {"topic": "x"}, "user": "ada", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        for frame in read_sse(response):
            first.append(frame)
            if frame[1]["event"] == "text_chunk" and len(first) >= 5:
                break  # the connection drops mid-run
    run_id = first[0][1]["workflow_run_id"]
    last_id = first[-1][0]
    assert last_id == len(first)
    rest = run_events(asgi_server, key, run_id, "ada", headers={"Last-Event-ID": str(last_id)})
    assert rest[0][0] == last_id + 1 and rest[-1][1]["event"] == "workflow_finished"
    everything = run_events(asgi_server, key, run_id, "ada")  # after the end: all of it
    assert first + rest == everything
    ids = [i for i, _ in everything]
    assert ids == list(range(1, len(ids) + 1))
    text = "".join(p["data"]["text"] for _, p in everything if p["event"] == "text_chunk")
    assert text == fake_openai.reply_text


def test_reconnect_with_the_query_parameter_and_while_running(asgi_server, fake_openai):
    fake_openai.reply_text = " ".join(f"w{i}" for i in range(30))
    fake_openai.chunk_delay = 0.03
    app = llm_app(make_workspace(), fake_openai)
    key = app_key(app)
    original: list[tuple[int | None, dict]] = []
    resumed: list[tuple[int | None, dict]] = []

    def follow(run_id: str) -> None:
        resumed.extend(run_events(asgi_server, key, run_id, "ada", last_event_id=2))

    follower: threading.Thread | None = None
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", headers=auth(key), timeout=30,
        json={"inputs": {"topic": "x"}, "user": "ada", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        for frame in read_sse(response):
            original.append(frame)
            if follower is None and frame[1]["event"] == "text_chunk":
                follower = threading.Thread(target=follow, args=(frame[1]["workflow_run_id"],))
                follower.start()  # a second reader, live, while the first keeps reading
    assert follower is not None
    follower.join(15)
    assert resumed == original[2:]


def test_reconnect_after_the_run_finished_replays_everything(asgi_server):
    app = greeter_app(make_workspace())
    key = app_key(app)
    streamed = stream_run(asgi_server, key, {"inputs": GREETER_INPUTS, "user": "ada"})
    run_id = streamed[0][1]["workflow_run_id"]
    assert run_events(asgi_server, key, run_id, "ada") == streamed
    assert run_events(asgi_server, key, run_id, "ada", last_event_id=0) == streamed
    started = time.monotonic()
    last = str(streamed[-1][0])
    assert run_events(asgi_server, key, run_id, "ada", headers={"Last-Event-ID": last}) == []
    assert time.monotonic() - started < 2  # closes at once: nothing is left to send

    blocking = service(key).post(
        "/v1/workflows/run", {"inputs": GREETER_INPUTS, "user": "ada"}, format="json"
    )
    blocking_run = blocking.json()["workflow_run_id"]
    replay = run_events(asgi_server, key, blocking_run, "ada")
    assert [p["event"] for _, p in replay] == [p["event"] for _, p in streamed]
    assert replay[-1][1]["data"]["outputs"] == blocking.json()["data"]["outputs"]


def test_reconnect_to_a_run_with_no_stored_events_sends_its_final_state(asgi_server):
    app = greeter_app(make_workspace())
    handle = workflow_run_start(app=app, inputs=GREETER_INPUTS, user_id="ada")
    for _ in handle.events():
        pass
    frames = run_events(asgi_server, app_key(app), handle.id, "ada")
    assert len(frames) == 1 and frames[0][0] is None
    finished = frames[0][1]
    assert finished["event"] == "workflow_finished" and finished["workflow_run_id"] == handle.id
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"] == {"greeting": "Hello, Ada!", "items": ["A"]}


def test_reconnect_sees_only_the_users_own_runs_of_the_app(asgi_server):
    workspace = make_workspace()
    app = greeter_app(workspace)
    key = app_key(app)
    run_id = stream_run(asgi_server, key, {"inputs": GREETER_INPUTS, "user": "ada"})[0][1][
        "workflow_run_id"
    ]
    path = f"/v1/workflow/{run_id}/events"
    client = service(key)
    assert_dify_error(client.get(path, {"user": "eve"}), 404, "not_found")
    for other in (greeter_app(workspace), greeter_app(make_workspace())):
        assert_dify_error(service(app_key(other)).get(path, {"user": "ada"}), 404, "not_found")
    assert_dify_error(client.get(path), 400, "invalid_param")  # no user
    bad_id = client.get(path, {"user": "ada"}, HTTP_LAST_EVENT_ID="x")
    assert_dify_error(bad_id, 400, "invalid_param")
    assert_dify_error(client.get(path, {"user": "ada", "last_event_id": "-1"}), 400,
                      "invalid_param")  # fmt: skip
    for unknown in ("00000000-0000-0000-0000-000000000000", "nope"):
        response = client.get(f"/v1/workflow/{unknown}/events", {"user": "ada"})
        assert_dify_error(response, 404, "not_found")
    chat = service(app_key(make_app(workspace, mode="completion")))
    assert_dify_error(chat.get(path, {"user": "ada"}), 400, "not_workflow_app")


def test_stream_frames_carry_sse_ids(asgi_server):
    app = greeter_app(make_workspace())
    with httpx.stream(
        "POST", asgi_server + "/v1/workflows/run", headers=auth(app_key(app)), timeout=30,
        json={"inputs": GREETER_INPUTS, "user": "u", "response_mode": "streaming"},
    ) as response:  # fmt: skip
        raw = response.read().decode()
    assert raw.startswith('id: 1\ndata: {"event": "workflow_started"')
    assert "\n\nid: 2\ndata: " in raw and raw.endswith("\n\n")
