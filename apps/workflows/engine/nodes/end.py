"""end: the workflow's outputs, each read from a selector."""

from __future__ import annotations

from typing import Any

from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext, Segment


@register
class EndNode(Node):
    node_type = "end"

    def parse(self) -> None:
        outputs = self.data.get("outputs") or []
        if not isinstance(outputs, list):
            raise self.fail_config("outputs", "must be a list")
        self.outputs: list[tuple[str, list[str]]] = []
        for position, output in enumerate(outputs):
            if not isinstance(output, dict) or not output.get("variable"):
                raise self.fail_config(f"outputs[{position}].variable", "is required")
            selector = self.selector(
                f"outputs[{position}].value_selector", output.get("value_selector") or None
            )
            self.outputs.append((str(output["variable"]), selector))

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        values: dict[str, Any] = {name: pool.get_or(sel) for name, sel in self.outputs}
        return NodeResult(inputs=dict(values), outputs=values)

    def response_segments(self) -> list[Segment]:
        return [(None, tuple(selector)) for _, selector in self.outputs]
