"""The Service API over a WebSocket (``/v1/ws/chat``): same payloads as the SSE stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import WorkflowRun
from apps.workflows.web.auth import web_token_mint
from tests.factories import app_key, make_app, make_workspace

pytestmark = pytest.mark.django_db(transaction=True)
DSL = Path(__file__).resolve().parents[1] / "workflows" / "dsl"
INPUTS = {"name": "Ada", "bag": {"items": ["x", "y"]}}


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator's API (importing channels.testing needs
    daphne, which the project does not install)."""

    def __init__(self, application: Any, path: str, headers: Any = None):
        raw_path, _, query = path.partition("?")
        scope = {
            "type": "websocket", "path": raw_path, "raw_path": raw_path.encode(),
            "query_string": query.encode(), "headers": list(headers or []),
            "subprotocols": [],
        }  # fmt: skip
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, response.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def receive_from(self, timeout: float = 5) -> str:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"]

    async def disconnect(self, code: int = 1000, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def _application() -> Any:
    from dify.asgi import application

    return application


def _workflow_app():
    text = (DSL / "roundtrip_workflow.yml").read_text()
    return app_import_dsl(workspace=make_workspace(), text=text, publish=True).app


async def _frames(comm: WebsocketCommunicator, until: tuple[str, ...]) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await comm.receive_from(timeout=20))
        frames.append(frame)
        if frame.get("event") in until:
            return frames


async def _session(path: str, messages: list[dict], until=("workflow_finished", "error"),
                   headers=None) -> list[list[dict]]:  # fmt: skip
    comm = WebsocketCommunicator(_application(), path, headers=headers or [])
    connected, _ = await comm.connect()
    assert connected
    answers = []
    try:
        for message in messages:
            await comm.send_to(text_data=json.dumps(message))
            answers.append(await _frames(comm, until))
    finally:
        await comm.disconnect()
    return answers


def test_workflow_run_streams_the_sse_payloads_over_the_socket():
    app = _workflow_app()
    headers = [(b"authorization", f"Bearer {app_key(app)}".encode())]
    message = {"action": "workflows/run", "body": {"inputs": INPUTS, "user": "ada"}}
    (frames,) = asyncio.run(_session("/v1/ws/chat", [message], headers=headers))
    events = [f["event"] for f in frames]
    assert events[0] == "workflow_started" and events[-1] == "workflow_finished"
    assert "node_started" in events and "node_finished" in events
    finished = frames[-1]
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"] == {"greeting": "Hello, Ada!", "items": ["X", "Y"]}
    assert len({f["workflow_run_id"] for f in frames}) == 1
    assert len({f["task_id"] for f in frames}) == 1
    run = WorkflowRun.objects.get(pk=finished["workflow_run_id"])
    assert run.app == app and run.created_by_end_user == "ada" and run.status == "succeeded"


def test_token_query_parameter_and_several_requests_on_one_socket():
    app = _workflow_app()
    message = {"action": "workflows/run", "body": {"inputs": INPUTS, "user": "ada"}}
    first, second = asyncio.run(_session(f"/v1/ws/chat?token={app_key(app)}", [message] * 2))
    assert first[-1]["event"] == second[-1]["event"] == "workflow_finished"
    assert first[-1]["workflow_run_id"] != second[-1]["workflow_run_id"]


def test_refused_requests_get_one_error_frame():
    app = _workflow_app()
    messages = [
        {"action": "chat-messages", "body": {"query": "hi", "inputs": {}, "user": "u"}},
        {"action": "completion-messages", "body": {"inputs": {}, "user": "u"}},
        {"action": "workflows/run", "body": {"inputs": INPUTS}},
        {"action": "workflows/run", "body": "nope"},
        {"action": "unknown", "body": {}},
        {"action": "workflows/run", "body": {"inputs": {}, "user": "u"}},
    ]
    answers = asyncio.run(_session(f"/v1/ws/chat?token={app_key(app)}", messages))
    codes = [(a[-1]["event"], a[-1]["code"], a[-1]["status"]) for a in answers]
    assert codes == [
        ("error", "not_chat_app", 400),
        ("error", "app_unavailable", 400),
        ("error", "invalid_param", 400),
        ("error", "invalid_param", 400),
        ("error", "invalid_param", 400),
        ("error", "invalid_param", 400),
    ]


def test_a_socket_without_a_valid_key_is_closed_with_401():
    async def attempt(path: str, headers=None) -> tuple[dict, Any]:
        comm = WebsocketCommunicator(_application(), path, headers=headers or [])
        connected, _ = await comm.connect()
        assert connected
        frame = json.loads(await comm.receive_from(timeout=5))
        closed = await comm.receive_output(timeout=5)
        await comm.disconnect()
        return frame, closed

    app = _workflow_app()
    disabled = make_app(app.workspace, mode="workflow", enable_api=False)
    for path, headers in [
        ("/v1/ws/chat", None),
        ("/v1/ws/chat?token=app-wrong", None),
        ("/v1/ws/chat", [(b"authorization", b"Bearer app-wrong")]),
        (f"/v1/ws/chat?token={app_key(disabled)}", None),
        ("/v1/ws/chat?token=web-forged:abc:def", None),
    ]:
        frame, closed = asyncio.run(attempt(path, headers))
        assert (frame["event"], frame["code"], frame["status"]) == ("error", "unauthorized", 401)
        assert closed == {"type": "websocket.close", "code": 4401}


def test_web_token_runs_as_its_own_end_user_only():
    app = _workflow_app()
    token = web_token_mint(app=app, user="web-visitor")
    messages = [
        {"action": "workflows/run", "body": {"inputs": INPUTS}},
        {"action": "workflows/run", "body": {"inputs": INPUTS, "user": "someone-else"}},
    ]
    ok, refused = asyncio.run(_session(f"/v1/ws/chat?token={token}", messages))
    run = WorkflowRun.objects.get(pk=ok[-1]["workflow_run_id"])
    assert run.created_by_end_user == "web-visitor"
    assert (refused[-1]["code"], refused[-1]["status"]) == ("forbidden", 403)


def test_another_apps_key_cannot_stop_or_see_a_task():
    app, other = _workflow_app(), _workflow_app()
    stop = {"action": "stop", "body": {"task_id": "whatever", "user": "ada"}}
    (answer,) = asyncio.run(
        _session(f"/v1/ws/chat?token={app_key(other)}", [stop], until=("stop", "error"))
    )
    assert answer == [{"event": "stop", "task_id": "whatever", "result": "success"}]
    assert not WorkflowRun.objects.filter(app=app).exists()


def test_a_real_client_over_the_live_server(asgi_server):
    from websockets.sync.client import connect

    app = _workflow_app()
    url = asgi_server.replace("http://", "ws://") + "/v1/ws/chat"
    headers = {"Authorization": f"Bearer {app_key(app)}"}
    with connect(url, additional_headers=headers, open_timeout=10) as socket:
        socket.send(
            json.dumps({"action": "workflows/run", "body": {"inputs": INPUTS, "user": "a"}})
        )
        events = []
        while not events or events[-1]["event"] not in ("workflow_finished", "error"):
            events.append(json.loads(socket.recv(timeout=20)))
    assert events[0]["event"] == "workflow_started"
    assert events[-1]["data"]["outputs"]["greeting"] == "Hello, Ada!"


def test_chat_messages_stream_over_the_socket(fake_openai):
    from apps.providers.services import default_model_set, provider_credentials_set

    workspace = make_workspace()
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible", validate=False,
        credentials={"base_url": fake_openai.base_url, "api_key": fake_openai.api_key,
                     "models": "fake-chat"},
    )  # fmt: skip
    default_model_set(
        workspace=workspace, model_type="llm", provider_name="openai_api_compatible",
        model="fake-chat",
    )  # fmt: skip
    fake_openai.reply_text = "Hello there"
    config = {"model": {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat"}}
    app = make_app(workspace, mode="chat", model_config=config)
    body = {"query": "hi", "inputs": {}, "user": "ada", "response_mode": "streaming"}
    (frames,) = asyncio.run(
        _session(f"/v1/ws/chat?token={app_key(app)}", [{"action": "chat-messages", "body": body}],
                 until=("message_end", "error"))
    )  # fmt: skip
    assert frames[-1]["event"] == "message_end", frames
    answer = "".join(f.get("answer", "") for f in frames if f["event"] == "message")
    assert answer == "Hello there"
    assert frames[-1]["conversation_id"] and frames[-1]["message_id"]


def test_auto_generate_name_must_be_a_boolean_over_the_socket_too():
    app = make_app(make_workspace(), mode="chat")
    body = {"query": "hi", "inputs": {}, "user": "u", "auto_generate_name": "false"}
    (frames,) = asyncio.run(
        _session(f"/v1/ws/chat?token={app_key(app)}", [{"action": "chat-messages", "body": body}])
    )
    error = frames[-1]
    assert (error["event"], error["code"], error["status"]) == ("error", "invalid_param", 400)
    assert "auto_generate_name" in error["message"]
