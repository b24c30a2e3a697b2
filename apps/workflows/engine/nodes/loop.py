"""loop: runs its body again and again (do-while) with loop variables that persist.

Ends when the break conditions hold after a round, when a ``loop-end`` node ran in the
round, or after ``loop_count`` rounds. Loop variables live at ``[loop_id, label]``; the
body changes them with an assigner node; their final values are the node's outputs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Generator, Iterator
from typing import Any

from ..conditions import evaluate, validate_conditions
from ..errors import NodeError
from ..events import ContainerFinished, ContainerNext, ContainerStarted, NodeFinished
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

MAX_LOOP_COUNT = 1000


@register
class LoopStartNode(Node):
    node_type = "loop-start"

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        return NodeResult(outputs={})


@register
class LoopEndNode(Node):
    node_type = "loop-end"

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        return NodeResult(outputs={})


@register
class LoopNode(Node):
    node_type = "loop"
    is_container = True

    def parse(self) -> None:
        try:
            self.loop_count = int(self.data.get("loop_count") or 0)
        except (TypeError, ValueError) as exc:
            raise self.fail_config("loop_count", "must be a whole number") from exc
        if not 0 < self.loop_count <= MAX_LOOP_COUNT:
            raise self.fail_config("loop_count", f"must be between 1 and {MAX_LOOP_COUNT}")
        self.break_conditions = validate_conditions(
            self.id, "break_conditions", self.data.get("break_conditions") or []
        )
        self.logical_operator = self.data.get("logical_operator") or "and"
        if self.logical_operator not in ("and", "or"):
            raise self.fail_config("logical_operator", "must be 'and' or 'or'")
        self.loop_variables = self.data.get("loop_variables") or []
        for position, variable in enumerate(self.loop_variables):
            if not isinstance(variable, dict) or not variable.get("label"):
                raise self.fail_config(f"loop_variables[{position}].label", "is required")
            if variable.get("value_type", "constant") == "variable":
                self.selector(f"loop_variables[{position}].value", variable.get("value"))

    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[Any]:
        assert ctx.run_subgraph is not None and ctx.graph is not None
        loop_pool = pool.child()
        for variable in self.loop_variables:
            value = variable.get("value")
            if variable.get("value_type", "constant") == "variable":
                value = pool.get_or(value)
            loop_pool.add(self.id, str(variable["label"]), _typed(variable, value))
        end_nodes = {
            n for n in ctx.graph.scopes[self.id].node_ids
            if ctx.graph.nodes[n].config.type == "loop-end"
        }  # fmt: skip
        execution_id = uuid.uuid4().hex
        started = time.perf_counter()
        inputs = {"loop_count": self.loop_count}
        yield ContainerStarted("loop", execution_id, self.id, self.title, inputs)
        tally = [0]  # tokens used by the body
        rounds = 0
        reason = "loop_count"
        error: str | None = None
        for index in range(self.loop_count):
            yield ContainerNext("loop", execution_id, self.id, self.title, index)
            loop_pool.add(self.id, "index", index)
            events = ctx.run_subgraph(self.id, loop_pool.child(), loop_index=index)
            outcome = yield from _relay(events, tally)
            rounds += 1
            if outcome.status in ("failed", "stopped"):
                error = f"loop round {index} failed: {outcome.error}"
                break
            if end_nodes & set(outcome.finished):
                reason = "loop_end_node"
                break
            if self.break_conditions:
                matched, _ = evaluate(loop_pool, self.break_conditions, self.logical_operator)
                if matched:
                    reason = "break_conditions"
                    break
        outputs = {
            str(v["label"]): loop_pool.get_or((self.id, str(v["label"])))
            for v in self.loop_variables
        }
        yield ContainerFinished(
            "loop", execution_id, self.id, self.title, "failed" if error else "succeeded",
            inputs, outputs, error, time.perf_counter() - started, rounds,
            {"total_tokens": tally[0]},
        )  # fmt: skip
        if error:
            raise NodeError(error)
        yield NodeResult(
            inputs=inputs,
            outputs=outputs,
            usage={"total_tokens": tally[0]},
            metadata={"loop_rounds": rounds, "completed_reason": reason},
        )


def _relay(events: Iterator[Any], tally: list[int]) -> Generator[Any, None, Any]:
    """Pass the body's events on, adding up its tokens; return the body's outcome."""
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            return stop.value
        if isinstance(event, NodeFinished):
            tally[0] += int(event.usage.get("total_tokens") or 0)
        yield event


def _typed(variable: dict[str, Any], value: Any) -> Any:
    """Constants arrive as strings from the editor; give them their declared type."""
    kind = str(variable.get("var_type") or "string")
    if variable.get("value_type", "constant") != "constant" or not isinstance(value, str):
        return value
    try:
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            return value.strip().lower() in ("true", "1")
        if kind.startswith("array") or kind == "object":
            import json

            return json.loads(value) if value.strip() else ([] if kind.startswith("array") else {})
    except ValueError as exc:
        raise NodeError(
            f"loop variable {variable.get('label')}: {value!r} is not a {kind}"
        ) from exc
    return value
