"""Runs a parsed graph: scheduling, parallel branches, error strategies, limits, stop.

A node runs once all its incoming edges are decided and at least one was taken; a node whose
incoming edges were all skipped is skipped and skips its own outgoing edges. Branch nodes
take the edges of the handle they choose. When exactly one node is ready and nothing else
runs, it runs on the calling thread (no hand-off cost); otherwise ready nodes go to a
bounded thread pool and their events come back through a queue, in the order they happen.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import NodeError, RunLimitExceeded, WorkflowError
from .events import (
    AgentLog,
    GraphEvent,
    NodeFinished,
    NodeRetry,
    NodeStarted,
    TextChunk,
    WorkflowFinished,
    WorkflowStarted,
)
from .graph import Graph, Scope
from .nodes import Node, NodeResult, RunContext, StreamChunk
from .ports import Ports
from .streaming import ResponseStreamer
from .variables import VariablePool

SUCCESS_HANDLES = frozenset({"source", "success-branch"})
FAIL_HANDLES = frozenset({"fail-branch"})


@dataclass
class RunLimits:
    max_steps: int = 500  # Dify's WORKFLOW_MAX_EXECUTION_STEPS
    max_seconds: float = 1200.0  # Dify's WORKFLOW_MAX_EXECUTION_TIME
    max_workers: int = 8  # parallel branches at once


@dataclass(slots=True)
class _Outcome:
    """Internal: a node is done (not sent to callers)."""

    node_id: str
    status: str  # succeeded | exception | failed | stopped
    handles: frozenset[str]
    error: str | None = None


@dataclass(slots=True)
class _Flush:
    """Internal: an answer/end node finished; send its remaining text before its event."""

    node_id: str


@dataclass
class ScopeOutcome:
    status: str  # succeeded | failed | stopped | partial-succeeded
    error: str | None
    steps: int
    tokens: int
    exceptions: int
    finished: list[str] = field(default_factory=list)


class _Shared:
    """Counters shared by a run and all its nested (iteration/loop) scopes."""

    def __init__(self, limits: RunLimits, stop: threading.Event):
        self.limits = limits
        self.stop = stop
        self.lock = threading.Lock()
        self.steps = 0
        self.index = 0  # execution order across the whole run, nested scopes included
        self.tokens = 0
        self.node_time = 0.0
        self.started = time.perf_counter()

    def take_step(self) -> None:
        with self.lock:
            self.steps += 1
            steps = self.steps
        if steps > self.limits.max_steps:
            raise RunLimitExceeded(f"max steps {self.limits.max_steps} exceeded")
        if time.perf_counter() - self.started > self.limits.max_seconds:
            raise RunLimitExceeded(f"max execution time {self.limits.max_seconds:g}s exceeded")


class GraphRunner:
    def __init__(
        self,
        graph: Graph,
        *,
        ports: Ports | None = None,
        limits: RunLimits | None = None,
        mode: str = "workflow",
    ):
        self.graph = graph
        self.ports = ports or Ports()
        self.limits = limits or RunLimits()
        self.mode = mode
        self._end_nodes = [n for n in graph.root.order if graph.nodes[n].config.type == "end"]

    def run(
        self,
        *,
        inputs: Mapping[str, Any] | None = None,
        system: Mapping[str, Any] | None = None,
        environment: Sequence[Mapping[str, Any]] = (),
        conversation: Mapping[str, Any] | None = None,
        history: Sequence[Mapping[str, str]] = (),
        run_id: str | None = None,
        stop: threading.Event | None = None,
        pool: VariablePool | None = None,
    ) -> Iterator[GraphEvent]:
        """Yield the run's events, ending with WorkflowFinished."""
        run_id = run_id or str(uuid.uuid4())
        root = self.graph.root
        system = {**(system or {}), "workflow_run_id": run_id}
        if pool is None:
            pool = VariablePool.build(
                system=system,
                environment=environment,
                conversation=conversation,
                inputs=inputs,
                start_node_id=root.root_id,
            )
        shared = _Shared(self.limits, stop or threading.Event())
        ctx = RunContext(
            ports=self.ports,
            run_id=run_id,
            app_id=str(system.get("app_id", "")),
            workflow_id=str(system.get("workflow_id", "")),
            user_id=str(system.get("user_id", "")),
            mode=self.mode,
            history=history,
            should_stop=shared.stop.is_set,
            graph=self.graph,
        )
        scope_run = _ScopeRun(self, root, pool, ctx, shared, parent_id=None)
        ctx.run_subgraph = self._subgraph_runner(ctx, shared)
        yield WorkflowStarted(run_id=run_id, inputs=dict(inputs or {}))
        outcome = yield from scope_run.events()
        outputs: dict[str, Any] = {}
        if self.mode == "workflow":
            for node_id in self._end_nodes:
                if node_id in scope_run.finished_set:
                    outputs.update(pool.node_values(node_id) or {})
        else:
            outputs = {"answer": scope_run.streamer.answer if scope_run.streamer else ""}
        elapsed = time.perf_counter() - shared.started
        node_time = scope_run.node_time
        yield WorkflowFinished(
            run_id=run_id,
            status=outcome.status,
            outputs=outputs if outcome.status in ("succeeded", "partial-succeeded") else {},
            error=pool.mask(outcome.error) if outcome.error else None,
            elapsed=elapsed,
            node_time=node_time,
            engine_time=max(0.0, elapsed - node_time),
            total_tokens=shared.tokens,
            total_steps=shared.steps,
            exceptions_count=outcome.exceptions,
        )

    def _subgraph_runner(self, ctx: RunContext, shared: _Shared) -> Any:
        def run_subgraph(
            container_id: str,
            pool: VariablePool,
            *,
            iteration_index: int | None = None,
            loop_index: int | None = None,
        ) -> Generator[GraphEvent, None, ScopeOutcome]:
            """Run a container's body; the generator's return value is a ScopeOutcome."""
            scope = self.graph.scopes[container_id]
            scope_run = _ScopeRun(
                self,
                scope,
                pool,
                ctx,
                shared,
                parent_id=container_id,
                iteration_index=iteration_index,
                loop_index=loop_index,
            )
            return (yield from scope_run.events())

        return run_subgraph


class _ScopeRun:
    """One execution of the top-level graph or of a container's body."""

    def __init__(
        self,
        runner: GraphRunner,
        scope: Scope,
        pool: VariablePool,
        ctx: RunContext,
        shared: _Shared,
        *,
        parent_id: str | None,
        iteration_index: int | None = None,
        loop_index: int | None = None,
    ):
        self.runner, self.graph, self.scope = runner, runner.graph, scope
        self.pool, self.ctx, self.shared = pool, ctx, shared
        self.parent_id = parent_id
        self.iteration_index, self.loop_index = iteration_index, loop_index
        self.remaining = {n: len(scope.in_edges.get(n, ())) for n in scope.node_ids}
        self.taken_in: dict[str, int] = {}
        self.predecessor: dict[str, str] = {}
        self.finished: list[str] = []
        self.finished_set: set[str] = set()
        self.resolved: set[str] = set()
        self.ready: deque[str] = deque()
        self.error: str | None = None
        self.exceptions = 0
        self.node_time = 0.0
        self.streamer: ResponseStreamer | None = None
        if parent_id is None:
            streamer = ResponseStreamer(
                self.graph,
                scope,
                pool,
                runner.mode,
                self.resolved.__contains__,
                self.finished_set.__contains__,
            )
            self.streamer = streamer if streamer.active else None

    # -- scheduling ------------------------------------------------------------------------
    def events(self) -> Generator[GraphEvent, None, ScopeOutcome]:
        assert self.scope.root_id is not None
        self.ready.append(self.scope.root_id)
        running = 0
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        executor: ThreadPoolExecutor | None = None
        stopped = False
        try:
            while self.ready or running:
                if self.shared.stop.is_set() and not stopped:
                    stopped = True
                    self.ready.clear()
                if self.error is not None:
                    self.ready.clear()
                if self.ready and running == 0 and len(self.ready) == 1:
                    for item in self._execute(self.ready.popleft()):
                        yield from self._handle(item)
                    continue
                while self.ready and running < self.runner.limits.max_workers:
                    if executor is None:
                        executor = ThreadPoolExecutor(
                            self.runner.limits.max_workers, thread_name_prefix="wf-node"
                        )
                    executor.submit(self._work, self.ready.popleft(), events)
                    running += 1
                if not running:
                    continue
                item = events.get()
                if isinstance(item, _Outcome):
                    running -= 1
                yield from self._handle(item)
        finally:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        stopped = stopped or self.shared.stop.is_set()
        if self.error is not None and not stopped:
            status = "failed"
        elif stopped:
            status = "stopped"
        elif self.exceptions:
            status = "partial-succeeded"
        else:
            status = "succeeded"
        return ScopeOutcome(
            status=status,
            error=self.error if status == "failed" else ("stopped by user" if stopped else None),
            steps=self.shared.steps,
            tokens=self.shared.tokens,
            exceptions=self.exceptions,
            finished=self.finished,
        )

    def _work(self, node_id: str, events: queue.SimpleQueue[Any]) -> None:
        try:
            for item in self._execute(node_id):
                events.put(item)
        except BaseException as exc:  # noqa: BLE001 - reported as the node's failure
            events.put(_Outcome(node_id, "failed", frozenset(), f"internal error: {exc!r}"))

    def _handle(self, item: Any) -> Iterator[GraphEvent]:
        if isinstance(item, _Outcome):
            yield from self._complete(item)
        elif isinstance(item, StreamChunk):
            if self.streamer is not None:
                yield from self.streamer.on_chunk(item.selector, item.text)
        elif isinstance(item, _Flush):
            self.finished_set.add(item.node_id)
            if self.streamer is not None:
                yield from self.streamer.pump()
        else:
            yield item

    def _complete(self, outcome: _Outcome) -> Iterator[GraphEvent]:
        node_id = outcome.node_id
        if outcome.status == "failed" or outcome.status == "stopped":
            if self.error is None and outcome.status == "failed":
                self.error = outcome.error or "node failed"
            self.resolved.add(node_id)
            return
        if outcome.status == "exception":
            self.exceptions += 1
        self.finished.append(node_id)
        self.finished_set.add(node_id)
        self.resolved.add(node_id)
        for edge in self.scope.out_edges.get(node_id, ()):
            self._mark(edge.target, edge.source_handle in outcome.handles, node_id)
        if self.streamer is not None:
            yield from self.streamer.pump()

    def _mark(self, target: str, taken: bool, source: str) -> None:
        stack = [(target, taken, source)]
        while stack:
            target, taken, source = stack.pop()
            self.remaining[target] -= 1
            if taken:
                self.taken_in[target] = self.taken_in.get(target, 0) + 1
                self.predecessor.setdefault(target, source)
            if self.remaining[target]:
                continue
            if self.taken_in.get(target):
                self.ready.append(target)
            else:  # every way in was skipped: skip it and everything only it leads to
                self.resolved.add(target)
                for edge in self.scope.out_edges.get(target, ()):
                    stack.append((edge.target, False, target))

    # -- running one node ------------------------------------------------------------------
    def _execute(self, node_id: str) -> Iterator[Any]:
        node = self.graph.nodes[node_id]
        execution_id = uuid.uuid4().hex
        with self.shared.lock:
            self.shared.index += 1
            index = self.shared.index
        predecessor = self.predecessor.get(node_id)
        common: dict[str, Any] = {
            "execution_id": execution_id,
            "node_id": node_id,
            "node_type": node.config.type,
            "title": node.title,
            "index": index,
            "predecessor_node_id": predecessor,
            "parent_id": self.parent_id,
            "iteration_index": self.iteration_index,
            "loop_index": self.loop_index,
        }
        try:
            self.shared.take_step()
        except RunLimitExceeded as exc:
            yield _Outcome(node_id, "failed", frozenset(), str(exc))
            return
        yield NodeStarted(**common)
        data = node.data
        retry = data.get("retry_config") or {}
        max_retries = int(retry.get("max_retries") or 0) if retry.get("retry_enabled") else 0
        retries = 0
        started = time.perf_counter()
        while True:
            started = time.perf_counter()
            try:
                result = yield from self._run_node(node, execution_id)
                error = None
                break
            except (WorkflowError, Exception) as exc:  # noqa: BLE001 - any node failure
                error = str(exc) if isinstance(exc, NodeError) else f"{type(exc).__name__}: {exc}"
                error = self.pool.mask(error)
                if retries < max_retries and not self.shared.stop.is_set():
                    retries += 1
                    yield NodeRetry(
                        execution_id=execution_id,
                        node_id=node_id,
                        node_type=node.config.type,
                        title=node.title,
                        retry_index=retries,
                        error=error,
                    )
                    self.shared.stop.wait(float(retry.get("retry_interval") or 0) / 1000)
                    continue
                result = None
                break
        elapsed = time.perf_counter() - started
        with self.shared.lock:
            if not node.is_container:
                self.shared.node_time += elapsed
            if self.parent_id is None:
                self.node_time += elapsed
        finished = dict(common)
        del finished["execution_id"], finished["node_id"], finished["node_type"]
        del finished["title"], finished["index"]
        if result is not None:
            tokens = int(result.usage.get("total_tokens") or 0)
            if tokens and not node.is_container:
                with self.shared.lock:
                    self.shared.tokens += tokens
            self.pool.add_outputs(node_id, result.outputs)
            if node.is_branch:
                handles = frozenset({result.edge_handle or "source"})
            else:
                handles = SUCCESS_HANDLES
            event = NodeFinished(
                execution_id=execution_id,
                node_id=node_id,
                node_type=node.config.type,
                title=node.title,
                index=index,
                status="succeeded",
                inputs=result.inputs,
                process_data=result.process_data,
                outputs=result.outputs,
                error=None,
                elapsed=elapsed,
                usage=result.usage,
                edge_handle=result.edge_handle,
                retries=retries,
                **finished,
            )
            if node.config.type in ("answer", "end"):
                yield _Flush(node_id)
            yield event
            yield _Outcome(node_id, "succeeded", handles)
            return
        assert error is not None
        strategy = data.get("error_strategy")
        status = "exception" if strategy in ("fail-branch", "default-value") else "failed"
        if self.shared.stop.is_set():
            status = "stopped"
        outputs: dict[str, Any] = {}
        if status == "exception":
            outputs = {"error_message": error, "error_type": "NodeError"}
            if strategy == "default-value":
                for item in data.get("default_value") or []:
                    if isinstance(item, Mapping) and item.get("key"):
                        outputs[str(item["key"])] = item.get("value")
            self.pool.add_outputs(node_id, outputs)
        yield NodeFinished(
            execution_id=execution_id,
            node_id=node_id,
            node_type=node.config.type,
            title=node.title,
            index=index,
            status=status,
            inputs={},
            process_data={},
            outputs=outputs,
            error=error,
            elapsed=elapsed,
            usage={},
            edge_handle="fail-branch" if strategy == "fail-branch" else None,
            retries=retries,
            **finished,
        )
        if status == "exception":
            handles = FAIL_HANDLES if strategy == "fail-branch" else SUCCESS_HANDLES
            yield _Outcome(node_id, "exception", handles, error)
        else:
            yield _Outcome(node_id, status, frozenset(), f"{node.title}: {error}")

    def _run_node(self, node: Node, execution_id: str) -> Generator[Any, None, NodeResult]:
        output = node.run(self.pool, self.ctx)
        if isinstance(output, NodeResult):
            return output
        result: NodeResult | None = None
        for item in output:
            if isinstance(item, NodeResult):
                result = item
            elif isinstance(item, AgentLog) and not item.execution_id:
                yield dataclasses.replace(item, execution_id=execution_id)
            elif isinstance(item, StreamChunk | GraphEvent):
                yield item
        if result is None:
            raise NodeError(f"node {node.id} produced no result")
        return result


def run_to_completion(runner: GraphRunner, **kwargs: Any) -> tuple[list[GraphEvent], str]:
    """Run and collect every event; also return the streamed text (handy in tests)."""
    events = list(runner.run(**kwargs))
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    return events, text
