"""start: checks and converts the run's inputs against the declared variables."""

from __future__ import annotations

import json
from typing import Any

from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

TEXT_TYPES = {"text-input", "paragraph", "select"}
KNOWN_TYPES = TEXT_TYPES | {
    "number", "file", "file-list", "checkbox", "json_object", "external_data_tool",
}  # fmt: skip


@register
class StartNode(Node):
    node_type = "start"

    def parse(self) -> None:
        variables = self.data.get("variables") or []
        if not isinstance(variables, list):
            raise self.fail_config("variables", "must be a list")
        self.variables: list[dict[str, Any]] = []
        for position, variable in enumerate(variables):
            if not isinstance(variable, dict) or not variable.get("variable"):
                raise self.fail_config(f"variables[{position}]", "needs a 'variable' name")
            if variable.get("type", "text-input") not in KNOWN_TYPES:
                raise self.fail_config(
                    f"variables[{position}].type", f"unknown input type {variable.get('type')!r}"
                )
            self.variables.append(variable)

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        given = dict(pool.node_values(self.id) or {})
        values: dict[str, Any] = dict(given)
        for variable in self.variables:
            name = variable["variable"]
            value = given.get(name)
            if value is None or value == "":
                if variable.get("required") and variable.get("default") in (None, ""):
                    raise NodeError(f"{name} is required in input form")
                value = variable.get("default")
            else:
                value = _convert(variable, value)
            values[name] = value
        pool.add_outputs(self.id, values)
        return NodeResult(inputs=given, outputs=values)


def _convert(variable: dict[str, Any], value: Any) -> Any:
    name, kind = variable["variable"], variable.get("type", "text-input")
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            raise NodeError(f"{name} in input form must be a string")
        limit = variable.get("max_length")
        if limit and len(value) > int(limit):
            raise NodeError(f"{name} in input form must be less than {limit} characters")
        options = variable.get("options") or []
        if kind == "select" and options and value not in options:
            raise NodeError(f"{name} in input form must be one of the following: {options}")
        return value
    if kind == "number":
        if isinstance(value, bool):
            raise NodeError(f"{name} in input form must be a valid number")
        if isinstance(value, int | float):
            return value
        try:
            number = float(str(value))
        except ValueError as exc:
            raise NodeError(f"{name} in input form must be a valid number") from exc
        return int(number) if number.is_integer() and "." not in str(value) else number
    if kind == "checkbox":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return bool(value)
    if kind == "json_object":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise NodeError(f"{name} in input form must be a JSON object") from exc
        if not isinstance(value, dict):
            raise NodeError(f"{name} in input form must be a JSON object")
        return value
    if kind == "file-list" and not isinstance(value, list):
        raise NodeError(f"{name} in input form must be a list of files")
    if kind == "file" and not isinstance(value, dict):
        raise NodeError(f"{name} in input form must be a file")
    return value
