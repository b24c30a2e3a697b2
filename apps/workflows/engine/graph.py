"""Parse and validate a Dify DSL graph (``workflow.graph``: nodes + edges).

Every problem found is reported at once, each naming the node (and field). Nodes inside an
iteration or loop (``parentId`` / ``data.iteration_id`` / ``data.loop_id``) form that
container's own graph; cycles are errors everywhere (loops repeat their body by running it
again, not through back edges).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphValidationError, NodeConfigError
from .nodes import Node, NodeConfig, load_builtin_nodes

CONTAINER_START_TYPES = {"iteration": "iteration-start", "loop": "loop-start"}
BRANCH_FREE_HANDLES = frozenset({"source", "success-branch"})


@dataclass(slots=True, frozen=True)
class Edge:
    id: str
    source: str
    target: str
    source_handle: str


@dataclass
class Scope:
    """The nodes of the top level or of one container, with their edges."""

    container_id: str | None
    node_ids: list[str] = field(default_factory=list)
    root_id: str | None = None
    out_edges: dict[str, list[Edge]] = field(default_factory=dict)
    in_edges: dict[str, list[Edge]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # topological


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    scopes: dict[str | None, Scope]
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict)

    def ancestors(self, node_id: str) -> frozenset[str]:
        """Every node with a path to ``node_id`` in its scope (computed on demand)."""
        cached = self._ancestors.get(node_id)
        if cached is None:
            scope = self.scopes[self.nodes[node_id].config.parent_id]
            found: set[str] = set()
            stack = [node_id]
            while stack:
                for edge in scope.in_edges.get(stack.pop(), ()):
                    if edge.source not in found:
                        found.add(edge.source)
                        stack.append(edge.source)
            cached = self._ancestors[node_id] = frozenset(found)
        return cached

    @property
    def root(self) -> Scope:
        return self.scopes[None]

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def of_type(self, node_type: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.config.type == node_type]


def _parent_of(raw: Mapping[str, Any], data: Mapping[str, Any]) -> str | None:
    parent = raw.get("parentId") or data.get("iteration_id") or data.get("loop_id")
    if parent and data.get("type") in ("iteration", "loop") and parent == raw.get("id"):
        return None
    return str(parent) if parent else None


def parse_graph(graph: Mapping[str, Any], *, mode: str = "workflow") -> Graph:
    """Build a runnable Graph; raise GraphValidationError listing every problem."""
    registry = load_builtin_nodes()
    problems: list[str] = []
    raw_nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    raw_edges = graph.get("edges", []) if isinstance(graph, Mapping) else None
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise GraphValidationError(["graph.nodes: the graph has no nodes"])
    if not isinstance(raw_edges, list):
        raise GraphValidationError(["graph.edges: must be a list"])

    nodes: dict[str, Node] = {}
    for position, raw in enumerate(raw_nodes):
        data = raw.get("data") if isinstance(raw, Mapping) else None
        node_id = str(raw.get("id", "")) if isinstance(raw, Mapping) else ""
        where = f"node {node_id or '#' + str(position)}"
        if not node_id or not isinstance(data, Mapping):
            problems.append(f"{where}: needs an id and a data object")
            continue
        if node_id in nodes:
            problems.append(f"{where}: duplicate node id")
            continue
        node_type = str(data.get("type", ""))
        node_class = registry.get(node_type)
        if node_class is None:
            problems.append(f"{where}: data.type: unknown node type {node_type!r}")
            continue
        config = NodeConfig(
            id=node_id,
            type=node_type,
            title=str(data.get("title") or node_type),
            data=dict(data),
            parent_id=_parent_of(raw, data),
        )
        try:
            nodes[node_id] = node_class(config)
        except NodeConfigError as exc:
            problems.append(str(exc))

    edges: list[Edge] = []
    for position, raw in enumerate(raw_edges):
        if not isinstance(raw, Mapping):
            problems.append(f"edge #{position}: must be an object")
            continue
        source, target = str(raw.get("source", "")), str(raw.get("target", ""))
        edge_id = str(raw.get("id") or f"{source}-{target}")
        for end, node_id in (("source", source), ("target", target)):
            if node_id not in nodes and not any(
                str(n.get("id")) == node_id for n in raw_nodes if isinstance(n, Mapping)
            ):
                problems.append(f"edge {edge_id}: {end} {node_id!r} is not a node (dangling edge)")
        edges.append(Edge(edge_id, source, target, str(raw.get("sourceHandle") or "source")))

    if problems:
        raise GraphValidationError(problems)

    scopes: dict[str | None, Scope] = {None: Scope(container_id=None)}
    for node in nodes.values():
        parent = node.config.parent_id
        if parent is not None and parent not in nodes:
            problems.append(f"node {node.id}: parentId {parent!r} is not a node")
            continue
        if parent is not None and not nodes[parent].is_container:
            problems.append(f"node {node.id}: parent {parent!r} is not an iteration or loop")
            continue
        scopes.setdefault(parent, Scope(container_id=parent)).node_ids.append(node.id)
    for node in nodes.values():
        if node.is_container:
            scopes.setdefault(node.id, Scope(container_id=node.id))

    for edge in edges:
        source_scope = nodes[edge.source].config.parent_id
        if nodes[edge.target].config.parent_id != source_scope:
            problems.append(
                f"edge {edge.id}: connects {edge.source} and {edge.target} across an "
                "iteration/loop boundary"
            )
            continue
        scope = scopes[source_scope]
        scope.out_edges.setdefault(edge.source, []).append(edge)
        scope.in_edges.setdefault(edge.target, []).append(edge)

    for scope in scopes.values():
        _set_root(scope, nodes, problems, mode)
        _order(scope, problems)
    if problems:
        raise GraphValidationError(problems)
    return Graph(nodes=nodes, edges=edges, scopes=scopes)


def _set_root(scope: Scope, nodes: dict[str, Node], problems: list[str], mode: str) -> None:
    if scope.container_id is None:
        starts = [n for n in scope.node_ids if nodes[n].config.type == "start"]
        if not starts:
            problems.append("graph: missing start node (a node with data.type 'start')")
            return
        if len(starts) > 1:
            problems.append(f"graph: more than one start node ({', '.join(starts)})")
        scope.root_id = starts[0]
        return
    container = nodes[scope.container_id]
    wanted = CONTAINER_START_TYPES[container.config.type]
    start_id = container.data.get("start_node_id")
    if not start_id:
        starts = [n for n in scope.node_ids if nodes[n].config.type == wanted]
        start_id = starts[0] if starts else None
    if not start_id or start_id not in scope.node_ids:
        problems.append(
            f"node {container.id}: start_node_id: the {container.config.type} has no "
            f"{wanted} node inside it"
        )
        return
    scope.root_id = str(start_id)


def _order(scope: Scope, problems: list[str]) -> None:
    """Kahn's algorithm; anything left over sits on a cycle."""
    remaining = {n: len(scope.in_edges.get(n, ())) for n in scope.node_ids}
    ready = [n for n, count in remaining.items() if count == 0]
    order: list[str] = []
    while ready:
        node_id = ready.pop()
        order.append(node_id)
        for edge in scope.out_edges.get(node_id, ()):
            remaining[edge.target] -= 1
            if remaining[edge.target] == 0:
                ready.append(edge.target)
    if len(order) != len(scope.node_ids):
        cyclic = sorted(n for n in scope.node_ids if n not in order)
        where = f"inside {scope.container_id}" if scope.container_id else "in the graph"
        problems.append(
            f"graph: cycle {where} through nodes {', '.join(cyclic)} "
            "(repeat work with a loop or iteration node instead)"
        )
    scope.order = order
