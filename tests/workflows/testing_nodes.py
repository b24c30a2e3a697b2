"""Node types that exist only in tests: sleep, flaky, stream. Registered on import."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.nodes import NodeResult, StreamChunk, registry
from apps.workflows.engine.nodes.base import Node, RunContext
from apps.workflows.engine.variables import VariablePool

_attempts: dict[str, int] = {}
_lock = threading.Lock()


class SleepNode(Node):
    """Waits ``seconds`` then outputs ``value`` (and the thread it ran on)."""

    node_type = "test-sleep"

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        time.sleep(float(self.data.get("seconds", 0)))
        return NodeResult(
            outputs={"value": self.data.get("value"), "thread": threading.get_ident()}
        )


class FlakyNode(Node):
    """Fails the first ``failures`` times it runs in a test (keyed by ``key``)."""

    node_type = "test-flaky"

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        key = str(self.data.get("key", self.id))
        with _lock:
            _attempts[key] = _attempts.get(key, 0) + 1
            attempt = _attempts[key]
        if attempt <= int(self.data.get("failures", 1)):
            raise NodeError(f"attempt {attempt} failed")
        return NodeResult(outputs={"value": f"ok after {attempt}"})


class StreamNode(Node):
    """Streams ``text`` word by word with ``delay`` between words, like an LLM."""

    node_type = "test-stream"
    streamed_outputs = ("text",)

    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[Any]:
        words = pool.render(str(self.data.get("text", ""))).split(" ")
        for position, word in enumerate(words):
            if ctx.should_stop():
                raise NodeError("stopped")
            piece = word if position == 0 else " " + word
            yield StreamChunk((self.id, "text"), piece)
            time.sleep(float(self.data.get("delay", 0)))
        yield NodeResult(outputs={"text": " ".join(words)})


for _cls in (SleepNode, FlakyNode, StreamNode):
    if registry.get(_cls.node_type) is None:
        registry.register(_cls)
