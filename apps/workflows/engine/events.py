"""Events the runner yields, in order. One serializer turns them into Dify's SSE frames;
the same objects feed WebSocket consumers and the stored run record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, frozen=True)
class GraphEvent:
    pass


@dataclass(slots=True, frozen=True)
class WorkflowStarted(GraphEvent):
    run_id: str
    inputs: dict[str, Any]


@dataclass(slots=True, frozen=True)
class WorkflowFinished(GraphEvent):
    run_id: str
    status: str  # succeeded | failed | stopped | partial-succeeded
    outputs: dict[str, Any]
    error: str | None
    elapsed: float  # wall seconds
    node_time: float  # seconds spent inside nodes (sum over nodes, parallel ones overlap)
    engine_time: float  # wall seconds not inside any node on the dispatching thread
    total_tokens: int
    total_steps: int
    exceptions_count: int = 0


@dataclass(slots=True, frozen=True)
class NodeStarted(GraphEvent):
    execution_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    predecessor_node_id: str | None
    parent_id: str | None = None  # iteration/loop container when inside one
    iteration_index: int | None = None
    loop_index: int | None = None


@dataclass(slots=True, frozen=True)
class NodeFinished(GraphEvent):
    execution_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    status: str  # succeeded | failed | exception | stopped
    inputs: dict[str, Any]
    process_data: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    elapsed: float
    usage: dict[str, Any]
    edge_handle: str | None = None
    predecessor_node_id: str | None = None
    parent_id: str | None = None
    iteration_index: int | None = None
    loop_index: int | None = None
    retries: int = 0


@dataclass(slots=True, frozen=True)
class NodeRetry(GraphEvent):
    execution_id: str
    node_id: str
    node_type: str
    title: str
    retry_index: int
    error: str


@dataclass(slots=True, frozen=True)
class TextChunk(GraphEvent):
    """Text for the user as it is produced (answer/end streaming): ``message`` in chat
    apps, ``text_chunk`` in workflow apps."""

    text: str
    from_node_id: str
    selector: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class ContainerStarted(GraphEvent):
    kind: str  # iteration | loop
    execution_id: str
    node_id: str
    title: str
    inputs: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ContainerNext(GraphEvent):
    kind: str
    execution_id: str
    node_id: str
    title: str
    index: int
    pre_output: Any = None


@dataclass(slots=True, frozen=True)
class ContainerFinished(GraphEvent):
    kind: str
    execution_id: str
    node_id: str
    title: str
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    elapsed: float
    steps: int
    usage: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class AgentLog(GraphEvent):
    node_id: str
    execution_id: str
    label: str
    data: dict[str, Any]
