"""Engine test helpers: build or load graphs and run them (no Django, no database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.workflows.engine.dsl import load_dsl
from apps.workflows.engine.events import GraphEvent, NodeFinished, TextChunk, WorkflowFinished
from apps.workflows.engine.graph import Graph, parse_graph
from apps.workflows.engine.ports import Ports
from apps.workflows.engine.runner import GraphRunner, RunLimits

DSL_DIR = Path(__file__).parent / "dsl"


class RunResult:
    def __init__(self, events: list[GraphEvent]):
        self.events: list[Any] = events
        finished = events[-1]
        assert isinstance(finished, WorkflowFinished), finished
        self.finished = finished
        self.status = finished.status
        self.outputs = finished.outputs
        self.error: str = finished.error or ""
        self.text = "".join(e.text for e in events if isinstance(e, TextChunk))

    def node(self, node_id: str) -> NodeFinished:
        found = [e for e in self.events if isinstance(e, NodeFinished) and e.node_id == node_id]
        assert found, f"node {node_id} did not run"
        return found[-1]

    def ran(self, node_id: str) -> bool:
        return any(isinstance(e, NodeFinished) and e.node_id == node_id for e in self.events)


def graph(nodes: list[dict[str, Any]], edges: list[Any], mode: str = "workflow") -> Graph:
    """``nodes``: [{"id", "type", ...data}], edges: ("a", "b") or ("a", "b", "handle")."""
    raw_nodes = []
    for node in nodes:
        data = {k: v for k, v in node.items() if k not in ("id", "parentId")}
        raw = {"id": node["id"], "data": data}
        if "parentId" in node:
            raw["parentId"] = node["parentId"]
        raw_nodes.append(raw)
    raw_edges = []
    for edge in edges:
        if isinstance(edge, dict):
            raw_edges.append(edge)
        else:
            source, target, *handle = edge
            raw_edges.append(
                {
                    "source": source,
                    "target": target,
                    "sourceHandle": handle[0] if handle else "source",
                }
            )
    return parse_graph({"nodes": raw_nodes, "edges": raw_edges}, mode=mode)


def run(
    g: Graph,
    inputs: dict[str, Any] | None = None,
    *,
    ports: Ports | None = None,
    mode: str = "workflow",
    limits: RunLimits | None = None,
    **kwargs: Any,
) -> RunResult:
    runner = GraphRunner(g, ports=ports, limits=limits, mode=mode)
    return RunResult(list(runner.run(inputs=inputs or {}, **kwargs)))


def run_dsl_file(
    name: str, inputs: dict[str, Any] | None = None, *, ports: Ports | None = None, **kwargs: Any
) -> RunResult:
    dsl = load_dsl((DSL_DIR / name).read_text())
    mode = "workflow" if dsl.mode == "workflow" else "advanced-chat"
    return run(
        dsl.parse_graph(),
        inputs,
        ports=ports,
        mode=mode,
        environment=dsl.environment_variables,
        conversation={v["name"]: v.get("value") for v in dsl.conversation_variables if "name" in v},
        **kwargs,
    )
