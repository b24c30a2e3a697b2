"""variable-aggregator (old name ``variable-assigner``): the first of its variables that has
a value becomes ``output`` — the usual way to join the branches of an if-else or classifier.

With ``advanced_settings.group_enabled`` each group does the same on its own and the outputs
are ``{<group_name>: {output: value}}``.
"""

from __future__ import annotations

from typing import Any

from ..variables import VariablePool
from . import registry
from .base import Node, NodeResult, RunContext


class VariableAggregatorNode(Node):
    node_type = "variable-aggregator"

    def parse(self) -> None:
        self.variables = self._selectors("variables", self.data.get("variables"))
        settings = self.data.get("advanced_settings") or {}
        if not isinstance(settings, dict):
            raise self.fail_config("advanced_settings", "must be an object")
        self.groups: list[tuple[str, list[list[str]]]] | None = None
        if settings.get("group_enabled"):
            raw_groups = settings.get("groups") or []
            if not isinstance(raw_groups, list):
                raise self.fail_config("advanced_settings.groups", "must be a list")
            self.groups = []
            for position, group in enumerate(raw_groups):
                where = f"advanced_settings.groups[{position}]"
                if not isinstance(group, dict) or not group.get("group_name"):
                    raise self.fail_config(f"{where}.group_name", "is required")
                selectors = self._selectors(f"{where}.variables", group.get("variables"))
                self.groups.append((str(group["group_name"]), selectors))

    def _selectors(self, field_name: str, raw: Any) -> list[list[str]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail_config(field_name, "must be a list of selectors")
        return [self.selector(f"{field_name}[{i}]", item) for i, item in enumerate(raw)]

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        inputs: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        if self.groups is None:
            found = _first(pool, self.variables, inputs)
            if found is not None:
                outputs["output"] = found
        else:
            for name, selectors in self.groups:
                found = _first(pool, selectors, inputs)
                if found is not None:
                    outputs[name] = {"output": found}
        return NodeResult(inputs=inputs, outputs=outputs)


def _first(pool: VariablePool, selectors: list[list[str]], inputs: dict[str, Any]) -> Any:
    for selector in selectors:
        value = pool.get_or(selector)
        if value is not None:
            inputs[".".join(selector[1:])] = value
            return value
    return None


registry.register(VariableAggregatorNode, "variable-assigner")
