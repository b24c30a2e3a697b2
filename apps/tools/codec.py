"""Tool declarations as plain JSON (the MCP tool list kept in the database) and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from apps.tools.base import ToolDeclaration, ToolParameter

_PARAMETER_FIELDS = {f.name for f in dataclasses.fields(ToolParameter)}


def declaration_to_json(declaration: ToolDeclaration) -> dict[str, Any]:
    data = dataclasses.asdict(declaration)
    for parameter in data["parameters"]:
        parameter["options"] = list(parameter["options"])
    return data


def declaration_from_json(data: Mapping[str, Any]) -> ToolDeclaration:
    """Back to a declaration; an MCP tool (with its ``input_schema``) to McpToolDeclaration."""
    parameters = []
    for raw in data.get("parameters") or []:
        known = {k: v for k, v in raw.items() if k in _PARAMETER_FIELDS}
        known["options"] = tuple(known.get("options") or ())
        parameters.append(ToolParameter(**known))
    fields: dict[str, Any] = {
        "name": str(data["name"]),
        "label": str(data.get("label") or ""),
        "description": str(data.get("description") or ""),
        "llm_description": str(data.get("llm_description") or ""),
        "parameters": tuple(parameters),
    }
    if isinstance(data.get("input_schema"), Mapping):
        from apps.tools.mcp import McpToolDeclaration

        return McpToolDeclaration(**fields, input_schema=dict(data["input_schema"]))
    return ToolDeclaration(**fields)
