"""answer: the chatflow's reply text, a template streamed to the user as it fills in."""

from __future__ import annotations

from ..variables import TEMPLATE_PATTERN, VariablePool
from . import register
from .base import Node, NodeResult, RunContext, Segment


@register
class AnswerNode(Node):
    node_type = "answer"

    def parse(self) -> None:
        answer = self.data.get("answer", "")
        if not isinstance(answer, str):
            raise self.fail_config("answer", "must be a string")
        self.template = answer
        self.segments: list[Segment] = []
        position = 0
        for match in TEMPLATE_PATTERN.finditer(answer):
            if match.start() > position:
                self.segments.append((answer[position : match.start()], None))
            self.segments.append((None, tuple(match.group(1).split("."))))
            position = match.end()
        if position < len(answer):
            self.segments.append((answer[position:], None))

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        text = pool.render(self.template)
        files = []
        for _, selector in self.segments:
            if selector is not None:
                value = pool.get_or(selector)
                if isinstance(value, dict) and value.get("dify_model_identity") == "__dify__file__":
                    files.append(value)
        return NodeResult(outputs={"answer": text, "files": files})

    def response_segments(self) -> list[Segment]:
        return self.segments
