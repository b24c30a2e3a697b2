"""code: runs the user's Python 3 or JavaScript ``main`` through the CodeRunner port and
checks its result against the declared outputs (Dify's rules and messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext
from .template_transform import variable_list

LANGUAGES = ("python3", "javascript")
OUTPUT_TYPES = frozenset(
    {
        "string", "number", "boolean", "object",
        "array[string]", "array[number]", "array[object]", "array[boolean]",
    }
)  # fmt: skip
# Dify's defaults (CODE_MAX_* settings).
MAX_STRING_LENGTH = 400_000
MAX_DEPTH = 5
MAX_NUMBER = 9_223_372_036_854_775_807
MIN_NUMBER = -9_223_372_036_854_775_808
MAX_ARRAY_LENGTH = {"array[string]": 30, "array[object]": 30, "array[number]": 1000}


@register
class CodeNode(Node):
    node_type = "code"

    def parse(self) -> None:
        self.variables = variable_list(self)
        self.language = self.data.get("code_language")
        if self.language not in LANGUAGES:
            raise self.fail_config("code_language", f"must be one of {', '.join(LANGUAGES)}")
        self.code = self.require("code", str)
        outputs = self.require("outputs", dict)
        self.outputs = self._schema("outputs", outputs)

    def _schema(self, field_name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        for name, config in raw.items():
            where = f"{field_name}.{name}"
            if not isinstance(config, dict) or config.get("type") not in OUTPUT_TYPES:
                raise self.fail_config(
                    f"{where}.type", f"must be one of {', '.join(sorted(OUTPUT_TYPES))}"
                )
            children = config.get("children")
            if isinstance(children, dict) and children and config["type"] == "object":
                schema[name] = {"type": "object", "children": self._schema(where, children)}
            else:
                schema[name] = {"type": config["type"], "children": None}
        return schema

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        inputs = {name: pool.get_or(selector) for name, selector in self.variables}
        runner = self.port(ctx, "code_runner")
        result = runner.run(language=self.language, code=self.code, inputs=inputs)
        if not isinstance(result, dict):
            raise NodeError(f"code must return an object (dict), got {type(result).__name__}")
        outputs = check_outputs(result, self.outputs)
        return NodeResult(inputs=inputs, outputs=outputs)


def check_outputs(result: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the declared outputs of ``result``, each checked against its declared type."""
    return _check_object(result, schema, prefix="", depth=1)


def _check_object(
    result: Mapping[str, Any], schema: Mapping[str, Any] | None, *, prefix: str, depth: int
) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise NodeError(f"Depth limit {MAX_DEPTH} reached, object too deep.")
    if schema is None:  # an object without declared children: check what is inside
        return {key: _check_free(value, f"{prefix}{key}", depth) for key, value in result.items()}
    checked: dict[str, Any] = {}
    for name, config in schema.items():
        path = f"{prefix}{name}"
        if name not in result:
            raise NodeError(f"Output {path} is missing.")
        checked[name] = _check_value(result[name], config["type"], config["children"], path, depth)
    return checked


def _check_value(value: Any, kind: str, children: Any, path: str, depth: int) -> Any:
    if value is None:
        return None
    if kind == "string":
        return _check_string(value, path)
    if kind == "number":
        return _check_number(value, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise NodeError(f"Output variable `{path}` must be a boolean")
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise NodeError(f"Output {path} is not an object, got {_type(value)} instead.")
        return _check_object(value, children, prefix=f"{path}.", depth=depth + 1)
    if not isinstance(value, list):
        raise NodeError(f"Output {path} is not an array, got {_type(value)} instead.")
    limit = MAX_ARRAY_LENGTH.get(kind)
    if limit is not None and len(value) > limit:
        raise NodeError(
            f"The length of output variable `{path}` must be less than {limit} elements."
        )
    element = kind[len("array[") : -1]
    checked: list[Any] = []
    for index, item in enumerate(value):
        if item is None:
            checked.append(None)
        elif element == "object" and not isinstance(item, dict):
            raise NodeError(
                f"Output {path}[{index}] is not an object, got {_type(item)} instead at index "
                f"{index}."
            )
        else:
            checked.append(_check_value(item, element, None, f"{path}[{index}]", depth))
    return checked


def _check_free(value: Any, path: str, depth: int) -> Any:
    if isinstance(value, dict):
        return _check_object(value, None, prefix=f"{path}.", depth=depth + 1)
    if isinstance(value, list):
        return [_check_free(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, str):
        return _check_string(value, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _check_number(value, path)
    return value


def _check_string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise NodeError(f"Output variable `{path}` must be a string")
    if len(value) > MAX_STRING_LENGTH:
        raise NodeError(
            f"The length of output variable `{path}` must be less than "
            f"{MAX_STRING_LENGTH} characters"
        )
    return value.replace("\x00", "")


def _check_number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NodeError(f"Output variable `{path}` must be a number")
    if value > MAX_NUMBER or value < MIN_NUMBER:
        raise NodeError(
            f"Output variable `{path}` is out of range, it must be between "
            f"{MIN_NUMBER} and {MAX_NUMBER}."
        )
    return value


def _type(value: Any) -> str:
    return type(value).__name__
