"""Node types by their DSL ``type`` string. One file per node type, one line here each."""

from __future__ import annotations

import importlib

from .base import Node, NodeConfig, NodeResult, RunContext, StreamChunk

NODE_MODULES = (
    "start",
    "end",
    "answer",
    "llm",
    "knowledge_retrieval",
    "question_classifier",
    "if_else",
    "code",
    "template_transform",
    "variable_aggregator",
    "assigner",
    "iteration",
    "loop",
    "parameter_extractor",
    "http_request",
    "tool",
    "document_extractor",
    "list_operator",
    "agent",
)


class NodeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[Node]] = {}

    def register(self, node_class: type[Node], *aliases: str) -> type[Node]:
        for name in (node_class.node_type, *aliases):
            if not name:
                raise ValueError(f"{node_class.__name__} has no node_type")
            if name in self._types and self._types[name] is not node_class:
                raise ValueError(f"node type {name!r} is registered twice")
            self._types[name] = node_class
        return node_class

    def get(self, name: str) -> type[Node] | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types


registry = NodeRegistry()


def register(node_class: type[Node]) -> type[Node]:
    """Class decorator: ``@register`` on a Node subclass."""
    return registry.register(node_class)


def load_builtin_nodes() -> NodeRegistry:
    for module in NODE_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return registry


__all__ = [
    "Node",
    "NodeConfig",
    "NodeRegistry",
    "NodeResult",
    "RunContext",
    "StreamChunk",
    "load_builtin_nodes",
    "register",
    "registry",
]
