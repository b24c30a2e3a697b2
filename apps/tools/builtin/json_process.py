"""Dify's ``json_process`` provider: parse, insert, replace and delete with JSONPath.

Tool names follow Dify: ``parse`` (also reachable as ``json_parse``), ``json_insert``,
``json_replace`` and ``json_delete``; queries are JSONPath (``jsonpath-ng``'s extended
syntax, so filters such as ``$.items[?(@.price > 10)]`` work). A query without a leading
``$`` is taken relative to the root, as Dify does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonpath_ng import DatumInContext, Fields, JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)
from apps.tools.builtin._util import as_json_items

MAX_QUERY_LENGTH = 1000

_CONTENT = ToolParameter(
    name="content", type="string", required=True, label="JSON content",
    human_description="JSON content", llm_description="JSON content to be processed",
)  # fmt: skip
_ENSURE_ASCII = ToolParameter(
    name="ensure_ascii", type="boolean", form="form", default=True, label="Ensure ASCII",
    human_description="Ensure the JSON output is ASCII encoded",
)  # fmt: skip


def load(content: Any) -> Any:
    if not isinstance(content, str):
        return json.loads(json.dumps(content))  # already structured (a variable): copy it
    try:
        return json.loads(content)
    except ValueError as exc:
        raise ToolError(f"content is not valid JSON: {exc}") from exc


def compile_query(query: str) -> JSONPath:
    query = str(query or "").strip()
    if not query:
        raise ToolError("the JSONPath query is empty")
    if len(query) > MAX_QUERY_LENGTH:
        raise ToolError(f"JSONPath query longer than {MAX_QUERY_LENGTH} characters")
    if not query.startswith("$"):
        query = "$." + query.lstrip(".")
    try:
        return parse_jsonpath(query)
    except (JsonPathLexerError, JsonPathParserError, ValueError, TypeError) as exc:
        raise ToolError(f"invalid JSONPath query {query!r}: {exc}") from exc


def decode_value(value: Any) -> Any:
    """A new value as JSON when it parses (``{"a": 1}``, ``3``, ``true``), else the string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def dump(data: Any, ensure_ascii: bool) -> ToolResult:
    return ToolResult(text=json.dumps(data, ensure_ascii=ensure_ascii), json=as_json_items(data))


class JSONParseTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="parse",
        label="JSON Parse",
        description="A tool for extracting JSON objects",
        llm_description=(
            "Extract values from JSON content with a JSONPath filter such as $.user.name or "
            "$.items[*].id; one match is returned as is, several as a JSON array."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(
                name="json_filter", label="JSON filter",
                human_description="JSON fields to be parsed",
                llm_description="JSONPath of the fields to extract, e.g. $.data.items[0].name",
            ),
            _ENSURE_ASCII,
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        data = load(parameters.get("content"))
        ensure_ascii = bool(parameters.get("ensure_ascii", True))
        json_filter = str(parameters.get("json_filter") or "").strip()
        if not json_filter:
            return dump(data, ensure_ascii)
        matches = [m.value for m in compile_query(json_filter).find(data)]
        result: Any = matches[0] if len(matches) == 1 else matches
        if isinstance(result, (dict, list)):
            text = json.dumps(result, ensure_ascii=ensure_ascii)
        else:
            text = str(result)
        return ToolResult(text=text, json=as_json_items(result))


class JSONInsertTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="json_insert",
        label="JSON Insert",
        description="A tool for inserting JSON content",
        llm_description=(
            "Insert a value into JSON content at a JSONPath: merged into an object, appended "
            "(or inserted at index) into an array, or set where the path ends at a value."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(
                name="query", required=True, label="Query", human_description="Object to insert",
                llm_description="JSONPath query to locate the element to insert",
            ),
            ToolParameter(
                name="new_value", required=True, label="New Value", human_description="New Value",
                llm_description="New value to insert (JSON, or a plain string)",
            ),
            ToolParameter(
                name="index", type="number", label="Index",
                human_description="Position to insert at when the target is an array",
                llm_description="Position to insert at when the target is an array",
            ),
            ToolParameter(
                name="create_path", type="select", form="form", required=True, default="False",
                label="Whether to create a path", options=("True", "False"),
                human_description="Whether to create a path when the path does not exist",
            ),
            _ENSURE_ASCII,
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        data = load(parameters.get("content"))
        query = compile_query(str(parameters.get("query") or ""))
        value = decode_value(parameters.get("new_value"))
        index = parameters.get("index")
        create = str(parameters.get("create_path", "False")).lower() in ("true", "1", "yes")
        matches = query.find(data)
        if not matches and create:
            try:
                data = query.update_or_create(data, value)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                raise ToolError(f"cannot create path {parameters.get('query')!r}: {exc}") from exc
            return dump(data, bool(parameters.get("ensure_ascii", True)))
        for match in matches:
            target = match.value
            if isinstance(target, dict):
                if not isinstance(value, dict):
                    raise ToolError("cannot insert a non-object value into an object")
                target.update(value)
            elif isinstance(target, list):
                if index is None:
                    target.append(value)
                else:
                    target.insert(int(index), value)
            else:
                data = match.full_path.update(data, value)
        return dump(data, bool(parameters.get("ensure_ascii", True)))


class JSONReplaceTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="json_replace",
        label="JSON Replace",
        description="A tool for replacing JSON content",
        llm_description=(
            "Replace in JSON content at a JSONPath: a substring of string values (pattern), "
            "the whole value (value) or the key name (key)."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(
                name="query", required=True, label="Query", human_description="Query",
                llm_description="JSONPath query to locate the element to replace",
            ),
            ToolParameter(
                name="replace_pattern", label="String to be replaced",
                human_description="String to be replaced",
                llm_description="String to be replaced (replace_model pattern)",
            ),
            ToolParameter(
                name="replace_value", required=True, label="Replace Value",
                human_description="New Value", llm_description="New Value to replace",
            ),
            ToolParameter(
                name="replace_model", type="select", form="form", required=True,
                default="pattern", label="Replace Model", options=("key", "value", "pattern"),
                human_description="Replace a key, a whole value, or a string inside values",
            ),
            ToolParameter(
                name="value_decode", type="boolean", form="form", default=False,
                label="Decode Value",
                human_description="Decode replace_value as JSON (value model)",
            ),
            _ENSURE_ASCII,
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        data = load(parameters.get("content"))
        query = compile_query(str(parameters.get("query") or ""))
        model = str(parameters.get("replace_model") or "pattern")
        replacement = parameters.get("replace_value")
        replacement = "" if replacement is None else replacement
        matches = query.find(data)
        if model == "pattern":
            pattern = parameters.get("replace_pattern")
            if not pattern:
                raise ToolError("replace_pattern is required to replace a string")
            for match in matches:
                if isinstance(match.value, str):
                    new = match.value.replace(str(pattern), str(replacement))
                    data = match.full_path.update(data, new)
        elif model == "value":
            value = decode_value(replacement) if parameters.get("value_decode") else replacement
            for match in matches:
                data = match.full_path.update(data, value)
        elif model == "key":
            for match in matches:
                _rename_key(match, str(replacement))
        else:
            raise ToolError(f"unknown replace_model {model!r}: use key, value or pattern")
        return dump(data, bool(parameters.get("ensure_ascii", True)))


def _rename_key(match: DatumInContext, new_key: str) -> None:
    parent = match.context.value if match.context is not None else None
    if not isinstance(parent, dict) or not isinstance(match.path, Fields):
        raise ToolError("replace_model key needs a query that ends at an object key")
    for old_key in match.path.fields:
        if old_key in parent:
            # rebuild to keep the key's position
            items = [(new_key if k == old_key else k, v) for k, v in parent.items()]
            parent.clear()
            parent.update(items)


class JSONDeleteTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="json_delete",
        label="JSON Delete",
        description="A tool for deleting JSON content",
        llm_description="Delete the keys or array items a JSONPath query matches from JSON.",
        parameters=(
            _CONTENT,
            ToolParameter(
                name="query", required=True, label="Query",
                human_description="JSONPath query to locate the element to delete",
                llm_description="JSONPath query to locate the element to delete",
            ),
            _ENSURE_ASCII,
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        data = load(parameters.get("content"))
        query = compile_query(str(parameters.get("query") or ""))
        if query.find(data):
            data = query.filter(lambda _value: True, data)
        return dump(data, bool(parameters.get("ensure_ascii", True)))


class JsonProcessProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="json_process",
        label="JSON Process",
        description="Tools for processing JSON content using jsonpath_ng",
        tags=("utilities",),
    )
    tools = (JSONParseTool(), JSONInsertTool(), JSONReplaceTool(), JSONDeleteTool())
    aliases = {"json_parse": "parse"}

    def tool(self, name: str) -> BuiltinTool | None:
        return super().tool(self.aliases.get(name, name))
