"""Errors raised by the engine. Messages name the node and the field."""

from __future__ import annotations

from collections.abc import Sequence


class WorkflowError(Exception):
    """Base of all engine errors."""


class GraphValidationError(WorkflowError):
    """The DSL graph cannot run. Carries every problem found, each naming node and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class NodeConfigError(WorkflowError):
    def __init__(self, node_id: str, field: str, message: str):
        self.node_id, self.field = node_id, field
        super().__init__(f"node {node_id}: {field}: {message}")


class NodeError(WorkflowError):
    """A node failed while running (bad input, upstream service error, …)."""


class VariableNotFoundError(NodeError):
    def __init__(self, selector: Sequence[str]):
        self.selector = list(selector)
        super().__init__(f"variable {'.'.join(self.selector)} not found")


class RunLimitExceeded(WorkflowError):
    pass


class RunStopped(WorkflowError):
    pass
