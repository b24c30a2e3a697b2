"""The Service API over a WebSocket: ``ws(s)://HOST/v1/ws/chat``.

Authenticate with ``Authorization: Bearer app-…`` on the handshake, or ``?token=app-…``
(or a web page's ``web-…`` token) where a client cannot set headers. Then send
``{"action": "chat-messages" | "completion-messages" | "workflows/run", "body": {…}}`` with
the same JSON as the HTTP endpoint; every event of the stream comes back as one JSON text
frame, exactly the payloads the SSE stream carries (``message``, ``message_end``,
``workflow_started``, ``text_chunk``, ``workflow_finished``, ``error``…). ``{"action":
"stop", "body": {"task_id", "user"}}`` stops a running task of the same user. Several
requests may run at once on one socket (tell them apart by ``task_id``). A refused
handshake key gets an ``error`` frame (401) and close code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import connections

from apps.core.errors import AppError, Forbidden, InvalidParam
from apps.tenants.models import ApiKey, Workspace
from apps.tenants.services import api_key_authenticate
from apps.workflows.chat.speech import with_speech
from apps.workflows.models import App, EndUser
from apps.workflows.service_api.base import CHAT_MODES, NotChatApp, NotWorkflowApp, flag_value
from apps.workflows.sse import error_payload
from apps.workflows.web.auth import WEB_TOKEN_PREFIX, web_principal

logger = logging.getLogger(__name__)
ACTIONS = ("chat-messages", "completion-messages", "workflows/run", "stop")
INTERNAL_ERROR = "The server encountered an internal error."
_DONE = object()


def _chat_stream(app: App, end_user: EndUser, body: Mapping[str, Any]) -> Iterator[dict]:
    from apps.workflows import chat_services

    task = chat_services.chat_message_start(
        app=app,
        end_user=end_user,
        query=body.get("query"),
        inputs=body.get("inputs") if body.get("inputs") is not None else {},
        files=body.get("files"),
        conversation_id=body.get("conversation_id") or None,
        auto_generate_name=flag_value(body.get("auto_generate_name"), "auto_generate_name", True),
    )
    yield from with_speech(task.events(), app=app)  # tts_message events, as over SSE


def _workflow_stream(app: App, end_user: EndUser, body: Mapping[str, Any]) -> Iterator[dict]:
    """Like the HTTP stream: the run goes on in its own thread; we follow its events."""
    from apps.workflows import workflow_api_services as runs
    from apps.workflows.run_events_store import is_terminal, run_event_store

    run = runs.workflow_api_run_start(
        app=app, end_user=end_user, inputs=body.get("inputs"), files=body.get("files")
    )
    runs.workflow_api_run_in_background(run)
    store, after = run_event_store(), 0
    waited, limit = 0.0, float(settings.WORKFLOW_MAX_EXECUTION_TIME) + 60.0
    while waited < limit:
        events = store.read(run.run_id, after, timeout=1.0)
        waited = 0.0 if events else waited + 1.0
        for seq, payload in events:
            after = seq
            yield payload
            if is_terminal(payload):
                return
    yield error_payload("internal_server_error", "the run stopped answering", 500)


def stream_for(
    app: App, end_user: EndUser, action: str, body: Mapping[str, Any]
) -> Iterator[dict[str, Any]]:
    """The payloads of one request, from the same services the HTTP views call."""
    if action == "workflows/run":
        if app.mode != "workflow":
            raise NotWorkflowApp()
        return _workflow_stream(app, end_user, body)
    if action == "chat-messages":
        if app.mode not in CHAT_MODES:
            raise NotChatApp()
        return _chat_stream(app, end_user, body)
    if action == "completion-messages":
        if app.mode != "completion":
            raise AppError("App unavailable, please check your app configurations.",
                           code="app_unavailable")  # fmt: skip
        return _chat_stream(app, end_user, body)
    raise InvalidParam(f"action must be one of {', '.join(ACTIONS)}")


@dataclass(frozen=True)
class SocketCaller:
    """Who is on the socket: the app, and the end user a web token is bound to."""

    app: App
    web_user: str | None = None

    def end_user(self, body: Mapping[str, Any]) -> EndUser:
        user = body.get("user")
        if self.web_user is not None:
            if user not in (None, "", self.web_user):
                raise Forbidden("The token does not belong to this user.")
            user = self.web_user
        if not isinstance(user, str) or not user or len(user) > 255:
            raise InvalidParam("user is required (a string of at most 255 characters)")
        end_user, _ = EndUser.objects.get_or_create(
            workspace_id=self.app.workspace_id, app=self.app, session_id=user
        )
        return end_user


def socket_caller(token: str) -> SocketCaller | None:
    """The caller of an ``app-`` key or a ``web-`` page token (None: refused)."""
    if token.startswith(WEB_TOKEN_PREFIX):
        principal = web_principal(token)
        if principal is None or principal.app is None:
            return None
        return SocketCaller(app=principal.app, web_user=principal.web_user)
    api_key = api_key_authenticate(token)
    if api_key is None or api_key.type != ApiKey.KeyType.APP or api_key.app is None:
        return None
    if api_key.workspace.status != Workspace.Status.NORMAL or not api_key.app.enable_api:
        return None
    return SocketCaller(app=api_key.app)


def run_request(caller: SocketCaller, action: str, body: Any) -> Iterator[dict[str, Any]]:
    """One request's payloads; refusals become one ``error`` payload (never an exception)."""
    try:
        if not isinstance(body, Mapping):
            raise InvalidParam("body must be an object")
        end_user = caller.end_user(body)
        if action == "stop":
            from apps.workflows.task_registry import task_registry

            task_id = str(body.get("task_id") or "")
            task_registry().request_stop(
                task_id, app_id=str(caller.app.pk), user=end_user.session_id
            )
            yield {"event": "stop", "task_id": task_id, "result": "success"}
            return
        yield from stream_for(caller.app, end_user, action, body)
    except AppError as exc:
        yield error_payload(exc.code, exc.message, exc.status)


class ServiceStreamConsumer(AsyncWebsocketConsumer):
    caller: SocketCaller | None = None
    closed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tasks: set[asyncio.Future[None]] = set()

    def _token(self) -> str:
        headers = dict(self.scope.get("headers") or [])
        scheme, _, raw = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and raw.strip():
            return raw.strip()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return (query.get("token") or [""])[0].strip()

    async def connect(self) -> None:
        token = self._token()
        self.caller = await database_sync_to_async(socket_caller)(token) if token else None
        await self.accept()
        if self.caller is None:
            message = "Access token is invalid" if token else "A Bearer token is required"
            await self._send(error_payload("unauthorized", message, 401))
            await self.close(code=4401)

    async def disconnect(self, code: int) -> None:
        self.closed = True  # running requests go on to the end and are stored (as SSE)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.caller is None:
            return
        try:
            message = json.loads(text_data or (bytes_data or b"").decode())
        except (ValueError, UnicodeDecodeError):
            await self._send(error_payload("invalid_param", "a frame must be a JSON object", 400))
            return
        if not isinstance(message, dict) or message.get("action") not in ACTIONS:
            text = f"action must be one of {', '.join(ACTIONS)}"
            await self._send(error_payload("invalid_param", text, 400))
            return
        caller, action, body = self.caller, message["action"], message.get("body")
        task = asyncio.ensure_future(self._relay(lambda: run_request(caller, action, body)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, produce: Callable[[], Iterator[dict[str, Any]]]) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: Any) -> None:
            # RuntimeError: the socket's loop is gone; the request still runs to its end
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                for payload in produce():
                    put(payload)
            except Exception:
                logger.exception("websocket stream failed")
                put(error_payload("internal_server_error", INTERNAL_ERROR, 500))
            finally:
                connections.close_all()  # this thread's connections only
                put(_DONE)

        threading.Thread(target=work, name="ws-producer", daemon=True).start()
        while (item := await queue.get()) is not _DONE:
            await self._send(item)

    async def _send(self, payload: dict[str, Any]) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(payload, ensure_ascii=False, default=str))
