"""Streams answer text to the user as it is produced, in graph order.

A response node (``answer`` in chatflows; ``end`` in workflows, whose streamed LLM outputs go
out as ``text_chunk``) is split into segments: literal text and variable selectors. Once no
branch decision above it is pending, its segments go out in order: literal text at once, a
finished node's value at once, a streaming LLM's text chunk by chunk as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .events import TextChunk
from .graph import Graph, Scope
from .nodes.base import Segment
from .variables import CONVERSATION, RESERVED, VariablePool, to_text


@dataclass
class _Response:
    node_id: str
    segments: Sequence[Segment]
    only_streamed: bool  # end nodes: send streamed values only
    blockers: frozenset[str]
    upstream: frozenset[str]  # every ancestor: conversation variables wait for all of them
    cursor: int = 0
    committed: bool = False
    done: bool = False
    sent: dict[tuple[str, ...], int] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)


class ResponseStreamer:
    def __init__(
        self,
        graph: Graph,
        scope: Scope,
        pool: VariablePool,
        mode: str,
        is_resolved: Callable[[str], bool],
        is_finished: Callable[[str], bool],
    ):
        self.graph, self.pool = graph, pool
        self.is_resolved, self.is_finished = is_resolved, is_finished
        self.buffers: dict[tuple[str, ...], str] = {}
        kinds = {"answer"} if mode != "workflow" else {"answer", "end"}
        self.responses: list[_Response] = []
        response_ids = {n for n in scope.order if graph.nodes[n].config.type in kinds}
        for node_id in scope.order:
            if node_id not in response_ids:
                continue
            node = graph.nodes[node_id]
            segments = node.response_segments() or []
            blockers = frozenset(
                a
                for a in graph.ancestors(node_id)
                if a in response_ids
                or graph.nodes[a].is_branch
                or graph.nodes[a].data.get("error_strategy") == "fail-branch"
            )
            is_end = node.config.type == "end"
            upstream = graph.ancestors(node_id)
            self.responses.append(_Response(node_id, segments, is_end, blockers, upstream))
        self.active = bool(self.responses)

    @property
    def answer(self) -> str:
        return "".join("".join(r.text) for r in self.responses if r.node_id)

    def answer_of(self, node_id: str) -> str:
        return "".join(next((r.text for r in self.responses if r.node_id == node_id), []))

    def on_chunk(self, selector: tuple[str, ...], text: str) -> list[TextChunk]:
        self.buffers[selector] = self.buffers.get(selector, "") + text
        return self.pump()

    def pump(self) -> list[TextChunk]:
        out: list[TextChunk] = []
        for response in self.responses:
            if response.done:
                continue
            finished = self.is_finished(response.node_id)
            if not finished and self.is_resolved(response.node_id):  # skipped
                response.done = True
                continue
            if not response.committed:
                if not finished and not all(self.is_resolved(b) for b in response.blockers):
                    break
                response.committed = True
            self._advance(response, out)
            if finished and response.cursor >= len(response.segments):
                response.done = True
                continue
            break  # later responses wait until this one is complete
        return out

    def _advance(self, response: _Response, out: list[TextChunk]) -> None:
        segments = response.segments
        while response.cursor < len(segments):
            literal, selector = segments[response.cursor]
            if selector is None:
                if not response.only_streamed:
                    self._emit(response, literal or "", (), out)
                response.cursor += 1
                continue
            producer = selector[0]
            if producer == CONVERSATION and not all(self.is_resolved(a) for a in response.upstream):
                return  # an assigner upstream may still change it
            node = self.graph.nodes.get(producer)
            streams = (
                node is not None and len(selector) == 2 and selector[1] in node.streamed_outputs
            )
            if producer in RESERVED or self.is_finished(producer):
                if streams or not response.only_streamed:
                    value = to_text(self.pool.get_or(selector))
                    self._emit(response, value[response.sent.get(selector, 0) :], selector, out)
                response.cursor += 1
            elif self.is_resolved(producer) or node is None:  # skipped or unknown: ''
                response.cursor += 1
            elif streams:
                buffered = self.buffers.get(selector, "")
                already = response.sent.get(selector, 0)
                self._emit(response, buffered[already:], selector, out)
                response.sent[selector] = len(buffered)
                return
            else:
                return

    @staticmethod
    def _emit(
        response: _Response, text: str, selector: tuple[str, ...], out: list[TextChunk]
    ) -> None:
        if text:
            response.text.append(text)
            if selector:
                response.sent[selector] = response.sent.get(selector, 0) + len(text)
            out.append(TextChunk(text=text, from_node_id=response.node_id, selector=selector))
