"""iteration: runs its body once per item of an array, in order or in parallel.

The body sees ``[iteration_id, "item"]`` and ``[iteration_id, "index"]``; the value at
``output_selector`` after each round is collected into ``output``. Error modes as in Dify:
``terminated`` (first failure fails the node), ``continue-on-error`` (None for that item),
``remove-abnormal-output`` (the item's output is dropped).
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import NodeError
from ..events import ContainerFinished, ContainerNext, ContainerStarted, NodeFinished
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

ERROR_MODES = ("terminated", "continue-on-error", "remove-abnormal-output")
_FAILED = object()


@register
class IterationStartNode(Node):
    node_type = "iteration-start"

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        return NodeResult(outputs={})


@register
class IterationNode(Node):
    node_type = "iteration"
    is_container = True

    def parse(self) -> None:
        self.iterator_selector = self.selector("iterator_selector")
        self.output_selector = self.selector("output_selector", required=False)
        self.is_parallel = bool(self.data.get("is_parallel", False))
        self.parallel_nums = max(1, int(self.data.get("parallel_nums") or 10))
        self.error_mode = self.data.get("error_handle_mode") or "terminated"
        if self.error_mode not in ERROR_MODES:
            raise self.fail_config("error_handle_mode", f"must be one of {', '.join(ERROR_MODES)}")
        self.flatten = bool(self.data.get("flatten_output", True))

    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[Any]:
        items = pool.get_or(self.iterator_selector)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise NodeError(f"iterator variable {'.'.join(self.iterator_selector)} is not a list")
        assert ctx.run_subgraph is not None
        execution_id = uuid.uuid4().hex
        started = time.perf_counter()
        inputs = {"iterator_selector": items}
        yield ContainerStarted("iteration", execution_id, self.id, self.title, inputs)
        tokens = 0
        results: list[Any] = [None] * len(items)
        error: str | None = None
        rounds = (
            self._parallel(items, pool, ctx)
            if self.is_parallel
            else self._serial(items, pool, ctx, execution_id)
        )
        for item in rounds:
            if isinstance(item, tuple):  # (index, output or _FAILED, error)
                index, output, round_error = item
                if output is _FAILED:
                    if self.error_mode == "terminated":
                        error = error or f"iteration {index} failed: {round_error}"
                    results[index] = None if self.error_mode == "continue-on-error" else _FAILED
                else:
                    results[index] = output
                continue
            if isinstance(item, NodeFinished):
                tokens += int(item.usage.get("total_tokens") or 0)
            yield item
        output = [r for r in results if r is not _FAILED]
        if self.flatten and output and all(isinstance(r, list) for r in output):
            output = [value for r in output for value in r]
        status = "failed" if error else "succeeded"
        yield ContainerFinished(
            "iteration", execution_id, self.id, self.title, status, inputs,
            {"output": output}, error, time.perf_counter() - started, len(items),
            {"total_tokens": tokens},
        )  # fmt: skip
        if error:
            raise NodeError(error)
        yield NodeResult(
            inputs={"iterator_selector": items},
            outputs={"output": output},
            usage={"total_tokens": tokens},
            metadata={"iteration_count": len(items)},
        )

    def _round_pool(self, pool: VariablePool, item: Any, index: int) -> VariablePool:
        child = pool.child()
        child.add(self.id, "item", item)
        child.add(self.id, "index", index)
        return child

    def _serial(
        self, items: list[Any], pool: VariablePool, ctx: RunContext, execution_id: str
    ) -> Iterator[Any]:
        assert ctx.run_subgraph is not None
        for index, item in enumerate(items):
            yield ContainerNext("iteration", execution_id, self.id, self.title, index)
            child = self._round_pool(pool, item, index)
            outcome = yield from ctx.run_subgraph(self.id, child, iteration_index=index)
            if outcome.status in ("failed", "stopped"):
                yield (index, _FAILED, outcome.error)
                if self.error_mode == "terminated" or outcome.status == "stopped":
                    return
            else:
                yield (index, child.get_or(self.output_selector), None)

    def _parallel(self, items: list[Any], pool: VariablePool, ctx: RunContext) -> Iterator[Any]:
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        done = object()

        def work(index: int, item: Any) -> None:
            assert ctx.run_subgraph is not None
            child = self._round_pool(pool, item, index)
            events = ctx.run_subgraph(self.id, child, iteration_index=index)
            try:
                while True:
                    results.put(next(events))
            except StopIteration as stop:
                outcome = stop.value
                if outcome.status in ("failed", "stopped"):
                    results.put((index, _FAILED, outcome.error))
                else:
                    results.put((index, child.get_or(self.output_selector), None))
            except Exception as exc:  # noqa: BLE001 - reported as this round's failure
                results.put((index, _FAILED, str(exc)))
            finally:
                results.put(done)

        with ThreadPoolExecutor(min(self.parallel_nums, max(1, len(items)))) as executor:
            futures = [executor.submit(work, index, item) for index, item in enumerate(items)]
            remaining = len(items)
            while remaining:
                event = results.get()
                if event is done:
                    remaining -= 1
                    continue
                failed = isinstance(event, tuple) and event[1] is _FAILED
                if failed and self.error_mode == "terminated":  # unstarted rounds never run
                    remaining -= sum(1 for future in futures if future.cancel())
                yield event
