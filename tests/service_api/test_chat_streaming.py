"""What a streamed chat answer guarantees while its first token is made fast: the ids of the
first event are stored rows, the answer is stored when the client goes, a failed store is a
Dify error, stop works from another process, and few SQL statements precede the token."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db.backends import utils as db_utils

from apps.tenants.models import ApiKey
from apps.tenants.services import api_key_delete
from apps.workflows.chat.task import background_wait
from apps.workflows.models import Conversation, EndUser, Message
from apps.workflows.task_registry import TaskRegistry
from tests.factories import app_key, make_workspace
from tests.fakes.openai_server import FakeOpenAIServer
from tests.service_api.chat_support import chat_app, sse_events

pytestmark = pytest.mark.django_db(transaction=True)
WORDS = " ".join(f"w{i}" for i in range(12))


@pytest.fixture
def model_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply_text=WORDS) as server:
        yield server
        background_wait()  # conversation titles, while the model server still answers


def _stream(base: str, key: str, user: str = "u-1", **body: Any) -> requests.Response:
    payload = {"inputs": {"name": "Ada"}, "query": "Hi", "response_mode": "streaming",
               "user": user, **body}  # fmt: skip
    return requests.post(
        f"{base}/v1/chat-messages", json=payload, headers={"Authorization": f"Bearer {key}"},
        stream=True, timeout=30,
    )  # fmt: skip


def _wait_for(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_records_are_stored_right_after_the_first_event(asgi_server, model_server):
    """The first token does not wait for the inserts; they follow it at once, before the
    next event (50 ms later here) and before the client could name the message."""
    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server)
    response = _stream(asgi_server, app_key(app))
    events = sse_events(response)
    first = next(events)
    assert first["event"] == "message"
    second = next(events)
    assert second["message_id"] == first["message_id"]
    message = Message.objects.get(pk=first["message_id"])  # stored by the second token
    assert str(message.conversation_id) == first["conversation_id"]
    assert message.task_id == first["task_id"] and message.query == "Hi"
    assert first["created_at"] == int(message.created_at.timestamp())
    conversation = Conversation.objects.get(pk=first["conversation_id"])
    assert conversation.dialogue_count == 1 and conversation.introduction == "Hi Ada!"
    response.close()


def test_answer_is_stored_when_the_client_goes_away(asgi_server, model_server):
    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server)
    response = _stream(asgi_server, app_key(app))
    first = next(sse_events(response))
    response.close()  # the client leaves after the first word
    message = _wait_for(
        lambda: Message.objects.filter(pk=first["message_id"]).exclude(answer="").first()
    )
    assert message.answer == WORDS and message.status == "normal"
    assert Conversation.objects.filter(pk=first["conversation_id"]).exists()


def test_a_failed_store_is_a_dify_error_and_the_model_stream_ends(
    asgi_server, model_server, monkeypatch
):
    """The first token is out when the inserts fail: the stream ends with Dify's error
    event, the model stream is closed, nothing else is written."""
    from apps.workflows import chat_services
    from apps.workflows.task_registry import task_registry

    def broken_store(message: Message, *, new_conversation: bool) -> None:
        raise RuntimeError("database went away")

    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server)
    monkeypatch.setattr(chat_services, "records_store", broken_store)
    response = _stream(asgi_server, app_key(app))
    assert response.status_code == 200
    events = list(sse_events(response))
    assert [e["event"] for e in events] == ["message", "error"]
    error = events[-1]
    assert (error["status"], error["code"]) == (500, "internal_server_error")
    assert error["message_id"] == events[0]["message_id"]
    assert "database" not in error["message"]  # no internals leak
    assert Message.objects.count() == 0 and Conversation.objects.count() == 0
    _wait_for(lambda: not task_registry()._tasks)  # the run ended and left the registry


def test_a_failed_store_in_blocking_mode_is_a_dify_500(asgi_server, model_server, monkeypatch):
    from apps.workflows import chat_services

    def broken_store(message: Message, *, new_conversation: bool) -> None:
        raise RuntimeError("database went away")

    app = chat_app(make_workspace(), model_server)
    monkeypatch.setattr(chat_services, "records_store", broken_store)
    response = _stream(asgi_server, app_key(app), response_mode="blocking")
    assert response.status_code == 500
    assert set(response.json()) == {"code", "message", "status"}
    assert Message.objects.count() == 0 and model_server.requests_to("/chat/completions") == []


def test_a_revoked_key_or_disabled_app_is_refused_at_once(asgi_server, model_server):
    app = chat_app(make_workspace(), model_server)
    key = app_key(app)
    headers = {"Authorization": f"Bearer {key}"}
    params = f"{asgi_server}/v1/parameters"
    assert requests.get(params, headers=headers, timeout=10).status_code == 200  # cached now
    app.enable_api = False
    app.save()
    assert requests.get(params, headers=headers, timeout=10).status_code == 403
    app.enable_api = True
    app.save()
    assert requests.get(params, headers=headers, timeout=10).status_code == 200
    api_key_delete(workspace=app.workspace, key_id=str(ApiKey.objects.get(app=app).pk))
    assert requests.get(params, headers=headers, timeout=10).status_code == 401


def test_no_sql_before_the_first_token(asgi_server, model_server, monkeypatch):
    """With the key and the end user cached, no statement goes out before the first token:
    the inserts are held here until the client has it (were the first token waiting for
    them, it would never come); then they go out together and the answer ends normally."""
    from apps.workflows import chat_services

    model_server.chunk_delay = 0.05
    app = chat_app(make_workspace(), model_server)
    key = app_key(app)
    list(sse_events(_stream(asgi_server, key)))  # caches the key and the end user
    background_wait()
    statements: list[str] = []
    execute = db_utils.CursorWrapper._execute
    first_token_seen = threading.Event()
    records_store = chat_services.records_store

    def counting(self: Any, sql: str, *args: Any) -> Any:
        statements.append(sql)
        return execute(self, sql, *args)

    def held_store(message: Message, *, new_conversation: bool) -> None:
        assert first_token_seen.wait(10), "the first token waited for the inserts"
        records_store(message, new_conversation=new_conversation)

    monkeypatch.setattr(db_utils.CursorWrapper, "_execute", counting)
    monkeypatch.setattr(chat_services, "records_store", held_store)
    response = _stream(asgi_server, key)
    events = sse_events(response)
    assert next(events)["event"] == "message"
    assert statements == []
    first_token_seen.set()
    rest = list(events)
    assert rest[-1]["event"] == "message_end"
    assert [sql.split()[0:3] for sql in statements[:2]] == [
        ["INSERT", "INTO", '"workflows_conversation"'],
        ["INSERT", "INTO", '"workflows_message"'],
    ]
    assert Message.objects.get(pk=rest[-1]["message_id"]).answer == WORDS
    assert EndUser.objects.filter(app=app).count() == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_stop_from_another_process_ends_the_stream(asgi_server, model_server):
    from django.conf import settings

    model_server.reply_text = " ".join(f"word{i}" for i in range(40))
    model_server.chunk_delay = 0.1
    app = chat_app(make_workspace(), model_server)
    response = _stream(asgi_server, app_key(app))
    events = []
    other_process = TaskRegistry(settings.REDIS_URL)  # no local tasks: it goes through Redis
    for event in sse_events(response):
        events.append(event)
        if len(events) == 2:
            stopper = threading.Thread(
                target=other_process.request_stop,
                args=(event["task_id"],),
                kwargs={"app_id": str(app.pk), "user": "u-1"},
            )
            stopper.start()
    assert events[-1]["event"] == "message_end"
    message = Message.objects.get(pk=events[-1]["message_id"])
    assert message.status == "stopped" and len(message.answer.split()) < 40


def test_open_streams_do_not_hold_request_threads(asgi_server, model_server, monkeypatch):
    """With one request handler at a time, two slow streams are open and an API call still
    answers: a stream's producer runs on its request thread after the response is out, and
    there no longer counts against REQUEST_THREADS_MAX. It is not handed to another pool."""
    from apps.core import asgi_handler
    from apps.core.request_threads import RequestThreads
    from apps.workflows import sse

    monkeypatch.setattr(asgi_handler, "_threads", RequestThreads(1))
    handed_off: list[object] = []
    monkeypatch.setattr(sse._producers, "submit", handed_off.append)
    model_server.chunk_delay = 0.2  # 12 words: over two seconds per answer
    key = app_key(chat_app(make_workspace(), model_server))
    streams = [sse_events(_stream(asgi_server, key, user=f"u-{n}")) for n in range(2)]
    firsts = [next(events) for events in streams]
    assert [e["event"] for e in firsts] == ["message", "message"]
    started = time.monotonic()
    info = requests.get(
        asgi_server + "/v1/info", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert info.status_code == 200 and time.monotonic() - started < 1.0
    for first, events in zip(firsts, streams, strict=True):
        rest = list(events)
        assert rest[-1]["event"] == "message_end"
        assert first["answer"] + "".join(e["answer"] for e in rest[:-1]) == WORDS
    assert handed_off == []
