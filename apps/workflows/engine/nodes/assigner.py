"""assigner (variable assigner): writes conversation variables and loop variables.

v1: ``assigned_variable_selector`` + ``write_mode`` (over-write | append | clear) +
``input_variable_selector``. v2 (``version: "2"``): ``items`` of ``{variable_selector,
input_type: variable|constant, operation, value}``. Writes go through
``pool.set_selector``; the host persists conversation variables after the run.
"""

from __future__ import annotations

from typing import Any

from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

VALUE_FREE = frozenset({"clear", "remove-first", "remove-last"})
ARITHMETIC = frozenset({"+=", "-=", "*=", "/="})
OPERATIONS = VALUE_FREE | ARITHMETIC | {"over-write", "set", "append", "extend"}
V1_MODES = ("over-write", "append", "clear")


@register
class AssignerNode(Node):
    node_type = "assigner"

    def parse(self) -> None:
        version = str(self.data.get("version") or "")
        if version == "2" or (not version and "items" in self.data):
            self.items = self._parse_v2()
        elif version in ("", "1"):
            self.items = [self._parse_v1()]
        else:
            raise self.fail_config("version", f"unknown assigner version {version!r}")

    def _parse_v1(self) -> dict[str, Any]:
        target = self.selector("assigned_variable_selector")
        mode = self.data.get("write_mode") or "over-write"
        if mode not in V1_MODES:
            raise self.fail_config("write_mode", f"must be one of {', '.join(V1_MODES)}")
        source = None
        if mode != "clear":
            source = self.selector("input_variable_selector")
        return {"selector": target, "operation": mode, "input_type": "variable", "value": source}

    def _parse_v2(self) -> list[dict[str, Any]]:
        raw = self.data.get("items") or []
        if not isinstance(raw, list):
            raise self.fail_config("items", "must be a list")
        items = []
        for position, item in enumerate(raw):
            where = f"items[{position}]"
            if not isinstance(item, dict):
                raise self.fail_config(where, "must be an object")
            target = self.selector(f"{where}.variable_selector", item.get("variable_selector"))
            operation = item.get("operation")
            if operation not in OPERATIONS:
                raise self.fail_config(
                    f"{where}.operation", f"must be one of {', '.join(sorted(OPERATIONS))}"
                )
            input_type = item.get("input_type") or "variable"
            if input_type not in ("variable", "constant"):
                raise self.fail_config(f"{where}.input_type", "must be 'variable' or 'constant'")
            value = item.get("value")
            if operation not in VALUE_FREE and input_type == "variable":
                value = self.selector(f"{where}.value", value)
            items.append(
                {
                    "selector": target,
                    "operation": operation,
                    "input_type": input_type,
                    "value": value,
                }
            )
        return items

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        updated: list[dict[str, Any]] = []
        inputs: dict[str, Any] = {}
        for item in self.items:
            selector: list[str] = item["selector"]
            name = ".".join(selector)
            if not pool.has(selector):
                raise NodeError(f"variable {name} not found")
            current = pool.get_or(selector)
            operation: str = item["operation"]
            value = None
            if operation not in VALUE_FREE:
                value = self._input(pool, item)
                inputs[name] = value
            new_value = apply_operation(name, current, operation, value)
            pool.set_selector(selector, new_value)
            updated.append(
                {
                    "name": selector[-1],
                    "selector": selector,
                    "value_type": value_type(new_value),
                    "new_value": new_value,
                }
            )
        return NodeResult(inputs=inputs, outputs={}, process_data={"updated_variables": updated})

    def _input(self, pool: VariablePool, item: dict[str, Any]) -> Any:
        if item["input_type"] == "constant":
            return item["value"]
        source: list[str] = item["value"]
        if not pool.has(source):
            raise NodeError(f"input variable {'.'.join(source)} not found")
        return pool.get_or(source)


def apply_operation(name: str, current: Any, operation: str, value: Any) -> Any:
    """The variable's new value; NodeError when the operation does not fit its type."""
    kind = value_type(current)
    if operation in ("over-write", "set"):
        given = value_type(value)
        if current is not None and value is not None and _family(given) != _family(kind):
            raise NodeError(f"cannot {operation} {kind} variable {name} with a {given} value")
        return value
    if operation == "clear":
        empty = _EMPTY.get(_family(kind))
        return type(empty)() if empty is not None else None
    if operation in ARITHMETIC:
        if kind != "number":
            raise NodeError(f"'{operation}' needs a number variable, but {name} is a {kind}")
        if value_type(value) != "number":
            raise NodeError(
                f"'{operation}' on {name} needs a number value, got {value_type(value)}"
            )
        if operation == "+=":
            return current + value
        if operation == "-=":
            return current - value
        if operation == "*=":
            return current * value
        if value == 0:
            raise NodeError(f"'/=' on {name}: division by zero")
        return current / value
    if current is not None and not isinstance(current, list):
        raise NodeError(f"'{operation}' needs an array variable, but {name} is a {kind}")
    items = list(current or [])
    if operation == "append":
        return [*items, value]
    if operation == "extend":
        if not isinstance(value, list):
            raise NodeError(f"'extend' on {name} needs an array value, got {value_type(value)}")
        return [*items, *value]
    if operation == "remove-first":
        return items[1:]
    return items[:-1]  # remove-last


_EMPTY: dict[str, Any] = {"string": "", "number": 0, "boolean": False, "object": {}, "array": []}


def _family(kind: str) -> str:
    return "array" if kind.startswith("array") else kind


def value_type(value: Any) -> str:
    """Dify's segment type of a plain value (array element type from its first item)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "file" if value.get("dify_model_identity") == "__dify__file__" else "object"
    if isinstance(value, list):
        inner = {value_type(v) for v in value}
        return f"array[{inner.pop()}]" if len(inner) == 1 else "array[any]"
    return type(value).__name__
