"""One running chat/completion message: its ids, stop signal and event stream.

The message (and a new conversation) is stored before the run starts, or, for a streamed
answer of a chat or completion app (``store_later``), by the stream itself right after its
first event went out: the model request and the first token do not wait for the inserts
(~1.5 ms of CPU on two busy cores). A run calls ``stored()`` after its first event and
before it writes the outcome; that stores the records then if they are not in yet. If
storing fails the stream ends with an ``error`` event and nothing more is written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import AppError
from apps.workflows.models import App, Conversation, EndUser, Message, WorkflowRun
from apps.workflows.sse import error_payload
from apps.workflows.task_registry import task_registry

from .generation import conversation_title_store

logger = logging.getLogger(__name__)
STORE_WAIT_SECONDS = 60.0
_background: list[threading.Thread] = []  # started ones only: a join needs a started thread
_background_lock = threading.Lock()


def run_in_background(target: Callable[[], None]) -> threading.Thread:
    """Work after the answer went out (conversation titles); own DB connection."""

    def work() -> None:
        from django.db import connections

        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="chat-after", daemon=True)
    with _background_lock:
        thread.start()
        _background[:] = [t for t in _background if t.is_alive()] + [thread]
    return thread


def background_wait(timeout: float = 10.0) -> None:
    """Wait for the after-answer work started so far (tests)."""
    with _background_lock:
        threads = list(_background)
    for thread in threads:
        thread.join(timeout)


@dataclass
class ChatTask:
    app: App
    end_user: EndUser
    conversation: Conversation | None
    message: Message
    task_id: str
    stop: threading.Event
    run: Callable[[ChatTask], Iterator[dict[str, Any]]]
    new_conversation: bool = False
    name_conversation: bool = False
    workflow_run: WorkflowRun | None = None  # a chatflow's run (its stream is resumable)
    started: float = field(default_factory=time.perf_counter)
    store: Callable[[ChatTask], None] | None = None  # stores the records when first needed
    _stored: threading.Event = field(default_factory=threading.Event, repr=False)
    _store_ok: bool = False

    def store_done(self, ok: bool) -> None:
        """The message (and conversation) were inserted (``ok``), or that failed."""
        self._store_ok = ok
        self._stored.set()

    @property
    def is_stored(self) -> bool:
        return self._stored.is_set()

    def stored(self) -> bool:
        """True once the records are in the database (storing them now if that was left to
        the stream); False if storing them failed: the run must end without a word."""
        if self._stored.is_set():
            return self._store_ok
        store, self.store = self.store, None
        if store is not None:
            try:
                store(self)
            except Exception:
                logger.exception("message %s could not be stored", self.message_id)
                self.store_done(False)
            return self._store_ok
        if not self._stored.wait(STORE_WAIT_SECONDS):
            logger.error("message %s was never stored", self.message_id)
            return False
        return self._store_ok

    @property
    def mode(self) -> str:
        return self.app.mode

    @property
    def message_id(self) -> str:
        return str(self.message.pk)

    @property
    def conversation_id(self) -> str | None:
        return str(self.conversation.pk) if self.conversation is not None else None

    def ids(self) -> dict[str, Any]:
        """``task_id``, ``message_id``, ``conversation_id`` (chat apps), ``created_at``."""
        ids: dict[str, Any] = {"task_id": self.task_id, "message_id": self.message_id}
        if self.conversation is not None:
            ids["conversation_id"] = self.conversation_id
        ids["created_at"] = int(self.message.created_at.timestamp())
        return ids

    def error_event(self, exc: AppError) -> dict[str, Any]:
        return error_payload(exc.code, exc.message, exc.status, **self.ids())

    def events(self) -> Iterator[dict[str, Any]]:
        """The payloads of the stream; the title is generated after the last one."""
        run = self.run(self)
        close = getattr(run, "close", lambda: None)  # a generator: ends the model stream
        try:
            for payload in run:
                yield payload
                if not self.stored():  # left to the stream: stored once the first event is out
                    close()
                    message = "The server encountered an internal error."
                    yield error_payload("internal_server_error", message, 500, **self.ids())
                    return
        finally:
            close()
            task_registry().finish(self.task_id)
            if self.name_conversation and self.conversation is not None and self._store_ok:
                conversation_id, app, query = self.conversation.pk, self.app, self.message.query
                run_in_background(
                    lambda: conversation_title_store(
                        conversation_id=conversation_id, app=app, query=query
                    )
                )

    def blocking(self) -> dict[str, Any]:
        """Run to the end and answer Dify's ChatCompletionResponse / CompletionResponse."""
        end: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        answer: list[str] = []
        for payload in self.events():  # always to the end: the message is stored there
            kind = payload.get("event")
            if kind in ("message", "agent_message"):
                answer.append(payload.get("answer") or "")
            elif kind == "message_replace":  # output moderation: the preset response
                answer[:] = [payload.get("answer") or ""]
            elif kind == "message_end":
                end = payload
            elif kind == "error":
                error = payload
        if error is not None:
            raise AppError(error["message"], code=error["code"], status=error["status"])
        body: dict[str, Any] = {"event": "message", "task_id": self.task_id, "id": self.message_id}
        body["message_id"] = self.message_id
        if self.conversation is not None:
            body["conversation_id"] = self.conversation_id
        body["mode"] = self.mode
        body["answer"] = self.message.answer or "".join(answer)
        body["metadata"] = (end or {}).get("metadata") or {"retriever_resources": []}
        body["created_at"] = int(self.message.created_at.timestamp())
        return body
