"""Node base class, what a node returns, and the context it runs in."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import NodeConfigError, NodeError
from ..ports import Ports
from ..variables import VariablePool

if TYPE_CHECKING:
    from ..events import GraphEvent
    from ..graph import Graph


Segment = tuple[str | None, tuple[str, ...] | None]  # (literal text, selector) of a response


@dataclass(slots=True)
class NodeConfig:
    id: str
    type: str
    title: str
    data: dict[str, Any]
    parent_id: str | None = None


@dataclass(slots=True)
class NodeResult:
    outputs: dict[str, Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    process_data: dict[str, Any] = field(default_factory=dict)
    edge_handle: str | None = None  # branch nodes: the handle taken (case id, class id…)
    usage: dict[str, Any] = field(default_factory=dict)  # prompt/completion/total_tokens
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class StreamChunk:
    """Part of an output as it is produced (an LLM's ``text``)."""

    selector: tuple[str, ...]
    text: str


@dataclass
class RunContext:
    """What every node of one run shares: ports, ids, history and the stop signal."""

    ports: Ports
    run_id: str = ""
    app_id: str = ""
    workflow_id: str = ""
    user_id: str = ""
    mode: str = "workflow"  # workflow | advanced-chat
    history: Sequence[Mapping[str, str]] = ()  # past turns: {"query": …, "answer": …}
    should_stop: Callable[[], bool] = lambda: False
    # Set by the runner: runs a container's body (iteration/loop) and yields its events.
    run_subgraph: Callable[..., Generator[Any, None, Any]] | None = None
    graph: Graph | None = None


NodeOutput = NodeResult | Iterator["StreamChunk | GraphEvent | NodeResult"]


class Node:
    """One DSL node type. Subclasses set ``node_type`` and implement ``parse`` and ``run``.

    ``run`` returns a NodeResult, or is a generator that yields StreamChunks / events and
    finally a NodeResult. Raise NodeError for failures the user should see.
    """

    node_type: ClassVar[str] = ""
    is_branch: ClassVar[bool] = False  # chooses among several outgoing handles
    is_container: ClassVar[bool] = False  # iteration / loop
    streamed_outputs: ClassVar[tuple[str, ...]] = ()  # outputs it yields as StreamChunks

    def __init__(self, config: NodeConfig):
        self.config = config
        self.id = config.id
        self.title = config.title
        self.data = config.data
        self.parse()

    def parse(self) -> None:
        """Read ``self.data``; raise NodeConfigError naming the field on bad input."""

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeOutput:
        raise NotImplementedError

    def response_segments(self) -> list[Segment] | None:
        """Answer/end nodes: the pieces of text the user sees, in order."""
        return None

    # -- helpers for subclasses ------------------------------------------------------------
    def fail_config(self, field_name: str, message: str) -> NodeConfigError:
        return NodeConfigError(self.id, field_name, message)

    def require(self, field_name: str, kind: type | tuple[type, ...] = object) -> Any:
        value = self.data.get(field_name)
        if value is None:
            raise self.fail_config(field_name, "is required")
        if not isinstance(value, kind):
            raise self.fail_config(field_name, f"must be {_kind_name(kind)}")
        return value

    def selector(self, field_name: str, value: Any = None, *, required: bool = True) -> list[str]:
        value = self.data.get(field_name) if value is None else value
        if not value:
            if required:
                raise self.fail_config(field_name, "a variable selector is required")
            return []
        if (
            not isinstance(value, list | tuple)
            or len(value) < 2
            or not all(isinstance(p, str) for p in value)
        ):
            raise self.fail_config(field_name, "must be a selector like [node_id, variable]")
        return list(value)

    def port(self, ctx: RunContext, name: str) -> Any:
        found = getattr(ctx.ports, name, None)
        if found is None:
            raise NodeError(f"{self.node_type} node {self.title or self.id}: no {name} configured")
        return found


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", list: "a list", dict: "an object", int: "a number", bool: "a boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
