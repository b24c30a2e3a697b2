"""parameter-extractor: has the model pull typed parameters out of a text, by a function call
(``reasoning_mode: function_call``) or by JSON in its reply (``prompt``). Like Dify, a reply
that misses a required parameter or has a wrong type is not a node failure: the node
succeeds with ``__is_success: 0`` and the reason, and such parameters get their type's
empty value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.providers.runtime.base import ChatMessage, ToolSpec

from ..variables import VariablePool, to_text
from . import register
from .base import Node, NodeResult, RunContext
from .prompting import (
    first_json,
    history_text,
    image_parts,
    messages_for_log,
    model_errors,
    parse_memory,
    parse_model,
    parse_vision,
    usage_dict,
    with_images,
)

TOOL_NAME = "extract_parameters"
SCALARS = {"string": "string", "number": "number", "bool": "boolean", "boolean": "boolean"}
ARRAYS = {"string", "number", "object", "bool", "boolean"}
RESERVED = {"__is_success", "__reason", "__usage"}
NO_RESULT = "Failed to extract result from function call or text response, using empty result."

SYSTEM_PROMPT = """You extract structured information from a text. Read the text the user \
gives and fill the parameters described by the JSON schema below; leave out a parameter the \
text does not mention.{instruction}{histories}"""
FUNCTION_HINT = "\n\nCall the function {name} with the parameters you found."
JSON_HINT = """

Parameters (JSON schema):
{schema}

Answer with one JSON object holding the parameters and nothing else."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # string | number | bool | select | array[...]
    description: str
    required: bool
    options: tuple[str, ...]

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"description": self.description}
        if self.type.startswith("array["):
            item = self.type[6:-1]
            found.update(type="array", items={"type": SCALARS.get(item, item)})
        else:
            found["type"] = SCALARS.get(self.type, "string")
        if self.options:
            found["enum"] = list(self.options)
        return found

    def empty(self) -> Any:
        if self.type.startswith("array["):
            return []
        return {"number": 0, "bool": False, "boolean": False}.get(self.type, "")


@register
class ParameterExtractorNode(Node):
    node_type = "parameter-extractor"

    def parse(self) -> None:
        self.model = parse_model(self)
        self.query_selector = self.selector("query")
        raw = self.data.get("parameters")
        if not isinstance(raw, list) or not raw:
            raise self.fail_config("parameters", "must be a non-empty list")
        self.parameters = [self._parameter(i, p) for i, p in enumerate(raw)]
        self.reasoning_mode = self.data.get("reasoning_mode") or "function_call"
        if self.reasoning_mode not in ("function_call", "prompt"):
            raise self.fail_config("reasoning_mode", "must be 'function_call' or 'prompt'")
        instruction = self.data.get("instruction") or ""
        if not isinstance(instruction, str):
            raise self.fail_config("instruction", "must be a string")
        self.instruction = instruction
        self.memory = parse_memory(self)
        self.vision = parse_vision(self)
        properties = {p.name: p.schema() for p in self.parameters}
        required = [p.name for p in self.parameters if p.required]
        self.json_schema = {"type": "object", "properties": properties, "required": required}

    def _parameter(self, index: int, raw: Any) -> Parameter:
        where = f"parameters[{index}]"
        if not isinstance(raw, Mapping) or not raw.get("name"):
            raise self.fail_config(f"{where}.name", "is required")
        name, kind = str(raw["name"]), str(raw.get("type") or "")
        if name in RESERVED:
            raise self.fail_config(f"{where}.name", f"{name} is reserved")
        if not (
            kind in SCALARS or kind == "select" or (kind[6:-1] in ARRAYS and kind[:6] == "array[")
        ):
            raise self.fail_config(f"{where}.type", f"unsupported type {kind!r}")
        options = raw.get("options") or []
        if not isinstance(options, list):
            raise self.fail_config(f"{where}.options", "must be a list")
        kind = "bool" if kind == "boolean" else kind
        description = str(raw.get("description") or "")
        required = bool(raw.get("required"))
        return Parameter(name, kind, description, required, tuple(str(o) for o in options))

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        query = to_text(pool.get_or(self.query_selector, ""))
        instruction = pool.render(self.instruction).strip()
        past = history_text(ctx, self.memory)
        system = SYSTEM_PROMPT.format(
            instruction=f"\n\nInstructions:\n{instruction}" if instruction else "",
            histories=f"\n\nConversation so far:\n{past}" if past else "",
        )
        schema_text = json.dumps(self.json_schema, ensure_ascii=False)
        function_call = self.reasoning_mode == "function_call"
        system += FUNCTION_HINT.format(name=TOOL_NAME) if function_call else ""
        system += "" if function_call else JSON_HINT.format(schema=schema_text)
        messages = [ChatMessage.system(system), ChatMessage.user(query)]
        messages = with_images(messages, image_parts(pool, ctx, self.vision))
        tool = ToolSpec(
            TOOL_NAME, "Extract parameters from the natural language text", self.json_schema
        )
        runtime = self.port(ctx, "model_runtime")
        with model_errors():
            result = runtime.chat(
                messages,
                provider=self.model.provider,
                model=self.model.name,
                parameters=self.model.params,
                tools=[tool] if function_call else None,
                user=ctx.user_id or None,
            )
        call = next((c for c in result.tool_calls if c.name == TOOL_NAME), None)
        call = call or (result.tool_calls[0] if result.tool_calls else None)
        raw = first_json(call.arguments) if call is not None else first_json(result.text)
        values, error = self.convert(raw)
        used = usage_dict(result.usage)
        process_data = {
            **self.model.info(),
            "prompts": messages_for_log(messages),
            "usage": used,
            "function": {"name": tool.name, "parameters": tool.parameters} if function_call else {},
            "tool_call": {"name": call.name, "arguments": call.arguments} if call else None,
            "llm_text": result.text,
        }
        outputs = {**values, "__is_success": 0 if error else 1, "__reason": error, "__usage": used}
        inputs = {"query": query, "instruction": instruction, "parameters": self.json_schema}
        return NodeResult(outputs=outputs, inputs=inputs, process_data=process_data, usage=used)

    def convert(self, raw: Any) -> tuple[dict[str, Any], str | None]:
        """Typed values of every parameter and the first problem found (None when none)."""
        values = {p.name: p.empty() for p in self.parameters}
        if not isinstance(raw, Mapping):
            return values, NO_RESULT
        error: str | None = None
        for parameter in self.parameters:
            if parameter.name not in raw or raw[parameter.name] is None:
                if parameter.required and error is None:
                    error = f"Parameter {parameter.name} is required"
                continue
            ok, value = _convert(parameter, raw[parameter.name])
            if ok:
                values[parameter.name] = value
            elif error is None:
                error = f"Invalid `{parameter.type}` value for parameter {parameter.name}"
        return values, error


def _convert(parameter: Parameter, value: Any) -> tuple[bool, Any]:
    kind = parameter.type
    if kind.startswith("array["):
        if not isinstance(value, list):
            return False, None
        items = [_scalar(kind[6:-1], item) for item in value]
        return all(ok for ok, _ in items), [v for ok, v in items if ok]
    if kind == "select":
        ok = isinstance(value, str) and (not parameter.options or value in parameter.options)
        return ok, value
    return _scalar(kind, value)


def _scalar(kind: str, value: Any) -> tuple[bool, Any]:
    if kind == "string":
        return isinstance(value, str), value
    if kind == "object":
        return isinstance(value, dict), value
    if kind in ("bool", "boolean"):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return True, value.strip().lower() == "true"
        return isinstance(value, bool), value
    if kind == "number":
        if isinstance(value, bool):
            return False, None
        if isinstance(value, int | float):
            return True, value
        if isinstance(value, str):
            try:
                return True, float(value) if "." in value else int(value)
            except ValueError:
                return False, None
    return False, None
