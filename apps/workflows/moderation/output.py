"""Output moderation of an answer as it streams (Dify's output moderation).

Local checks (keywords) run on every delta: the delta that makes the text flagged is not
sent. Remote checks (a moderation model, an API extension) run on a background thread each
time the text has grown by ``MODERATION_BUFFER_SIZE`` characters (Dify's default: 300), so
tokens are never held back for them; once one flags the text the stream ends. At the end
the whole answer is checked once more (unless the last check saw all of it). A flagged
answer is replaced (``message_replace``) by the preset response or the overridden text.
A remote check that fails is logged and lets the text pass, as Dify does.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from .base import Moderation, OutputVerdict

logger = logging.getLogger(__name__)
REPLACE_REASON = "output_moderation"  # Dify's QueueMessageReplaceEvent reason
DEFAULT_BUFFER_SIZE = 300


def buffer_size() -> int:
    return max(1, int(getattr(settings, "MODERATION_BUFFER_SIZE", DEFAULT_BUFFER_SIZE)))


class OutputGuard:
    def __init__(self, moderation: Moderation, *, buffer: int | None = None):
        self.moderation = moderation
        self.buffer = buffer or buffer_size()
        self._checked = -1  # length of the text the last finished check saw
        self._submitted = 0  # length of the text the last started check saw
        self._verdict: OutputVerdict | None = None  # the first flagged verdict
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.moderation.outputs.enabled

    @property
    def flagged(self) -> bool:
        return self._verdict is not None

    def _check(self, text: str) -> None:
        try:
            verdict = self.moderation.check_output(text)
        except Exception:
            logger.exception("output moderation check failed")
            verdict = OutputVerdict(False)
        with self._lock:
            self._checked = max(self._checked, len(text))
            if verdict.flagged and self._verdict is None:
                self._verdict = verdict

    def feed(self, text: str) -> bool:
        """The answer so far; True once it is flagged (stop sending it)."""
        if not self.active or self._verdict is not None:
            return self._verdict is not None
        if self.moderation.checks_locally:
            self._check(text)
        elif len(text) - self._submitted >= self.buffer and not self._busy():
            self._submitted = len(text)
            self._worker = threading.Thread(
                target=self._check, args=(text,), name="output-moderation", daemon=True
            )
            self._worker.start()
        return self._verdict is not None

    def _busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def finish(self, text: str) -> str | None:
        """The answer to show instead of ``text``, or None when it passes."""
        if not self.active:
            return None
        if self._worker is not None:
            self._worker.join()
        if self._verdict is None and self._checked != len(text):
            self._check(text)
        return self._verdict.replacement() if self._verdict is not None else None
