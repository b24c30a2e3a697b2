"""Dify's ``tts_message`` / ``tts_message_end`` events: a streamed answer read out while it
is written, when the app's ``text_to_speech`` is enabled with ``autoPlay: "enabled"``.

Each finished sentence of the answer goes to the workspace's default ``tts`` model in a
worker thread, one after the other; the audio (base64 mp3 pieces) is sent between the
answer's own events as it arrives. Before ``message_end`` the rest of the answer is spoken
and the audio waited for, then ``tts_message_end`` (``audio: ""``) closes it. A failed
speech request only ends the audio (logged): the answer goes on.
"""

from __future__ import annotations

import base64
import logging
import queue
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from apps.core.errors import AppError
from apps.providers.services import WorkspaceModelRuntime
from apps.workflows.models import App
from apps.workflows.parameters import app_features

logger = logging.getLogger(__name__)
_SENTENCE_END = re.compile(r"[.!?;。！？；]\s|\n")
_IDS = ("task_id", "message_id", "conversation_id", "created_at")
_DONE = object()
FLUSH_WAIT_SECONDS = 120.0


def autoplay_voice(app: App) -> str | None:
    """The app's voice ("" for the model's default) when answers are read out, else None."""
    try:
        tts = app_features(app=app).get("text_to_speech")
    except AppError:  # a graph app without a workflow: the run itself reports it
        return None
    if not isinstance(tts, Mapping) or not tts.get("enabled"):
        return None
    if tts.get("autoPlay") != "enabled":
        return None
    return str(tts.get("voice") or "")


class _Speaker:
    """Speaks queued sentences in order in one thread; the audio pieces queue up."""

    def __init__(self, app: App, voice: str) -> None:
        self._runtime = WorkspaceModelRuntime(app.workspace)
        self._voice = voice or None
        self._sentences: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.audio: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failed = threading.Event()
        self._thread = threading.Thread(target=self._work, name="chat-tts", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        if text.strip() and not self._failed.is_set():
            self._sentences.put(text.strip())

    def finish(self) -> None:
        self._sentences.put(_DONE)

    def _work(self) -> None:
        from django.db import connections

        try:
            while (text := self._sentences.get()) is not _DONE:
                if self._failed.is_set():
                    continue
                try:
                    for chunk in self._runtime.text_to_speech(text, voice=self._voice):
                        self.audio.put(chunk)
                except AppError as exc:
                    logger.warning("reading the answer out failed: %s", exc.message)
                    self._failed.set()
        finally:
            connections.close_all()  # this thread's connections only
            self.audio.put(_DONE)


def with_speech(events: Iterator[dict[str, Any]], *, app: App) -> Iterator[dict[str, Any]]:
    """``events`` with the audio of the answer in between (unchanged when auto-play is off)."""
    voice = autoplay_voice(app)
    if voice is None:
        yield from events
        return
    speaker = _Speaker(app, voice)
    pending, ended = "", False
    ids: dict[str, Any] = {}
    try:
        for event in events:
            kind = event.get("event")
            ids = ids or {k: event[k] for k in _IDS if k in event}
            if kind in ("message", "agent_message"):
                pending += str(event.get("answer") or "")
                *sentences, pending = _sentences(pending)
                for sentence in sentences:
                    speaker.say(sentence)
            elif kind == "message_replace":  # moderated: what is left to say is the new answer
                pending = str(event.get("answer") or "")
            if kind in ("message_end", "error") and not ended:
                ended = True
                speaker.say(pending)
                speaker.finish()
                yield from _audio_events(speaker, ids, wait=True)
            else:
                yield from _audio_events(speaker, ids, wait=False)
            yield event
        if not ended:  # a stream that ended without message_end: the audio still closes
            ended = True
            speaker.say(pending)
            speaker.finish()
            yield from _audio_events(speaker, ids, wait=True)
    finally:
        if not ended:
            speaker.finish()


def _sentences(text: str) -> list[str]:
    """Finished sentences of ``text``, then the unfinished rest (possibly "")."""
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    return [*parts, text[start:]]


def _audio_events(speaker: _Speaker, ids: dict[str, Any], *, wait: bool) -> Iterator[dict]:
    """The audio received so far (``wait``: all of it, then ``tts_message_end``)."""
    while True:
        try:
            item = speaker.audio.get(timeout=FLUSH_WAIT_SECONDS if wait else 0.0)
        except queue.Empty:
            return
        if item is _DONE:
            yield {"event": "tts_message_end", **ids, "audio": ""}
            return
        yield {"event": "tts_message", **ids, "audio": base64.b64encode(item).decode()}
