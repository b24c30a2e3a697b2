"""Workflow as a tool: the declaration built from a workflow graph's start variables.

Pure Python. Each start variable becomes a parameter (Dify's mapping of input types); the
provider's ``parameters`` configuration gives each one a description for the model and a
form: ``llm`` (the model fills it) or ``form`` (set where the tool is used).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from apps.tools.base import ToolDeclaration, ToolError, ToolParameter

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,64}$")
INPUT_TYPES = {
    "text-input": "string",
    "paragraph": "string",
    "select": "select",
    "number": "number",
    "checkbox": "boolean",
    "file": "file",
    "file-list": "files",
    "json_object": "object",
}


def start_variables(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The start node's variables of a workflow graph (no start node: ToolError)."""
    for node in graph.get("nodes") or []:
        data = node.get("data") if isinstance(node, Mapping) else None
        if isinstance(data, Mapping) and data.get("type") == "start" and not node.get("parentId"):
            return [dict(v) for v in data.get("variables") or [] if isinstance(v, Mapping)]
    raise ToolError("the workflow has no start node")


def check_configuration(
    configuration: Sequence[Mapping[str, Any]], variables: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """Normalise ``[{name, description, form}]``: names must be start variables; every
    variable gets an entry (form ``llm`` unless said otherwise)."""
    known = [str(v.get("variable")) for v in variables]
    given: dict[str, dict[str, str]] = {}
    for position, item in enumerate(configuration or []):
        if not isinstance(item, Mapping) or not item.get("name"):
            raise ToolError(f"parameters[{position}]: needs a name")
        name = str(item["name"])
        if name not in known:
            raise ToolError(
                f"parameters[{position}]: {name!r} is not an input of the workflow "
                f"(inputs: {', '.join(known) or 'none'})"
            )
        form = str(item.get("form") or "llm")
        if form not in ("llm", "form"):
            raise ToolError(f"parameters[{position}].form: must be llm or form")
        given[name] = {
            "name": name,
            "description": str(item.get("description") or ""),
            "form": form,
        }
    return [given.get(name) or {"name": name, "description": "", "form": "llm"} for name in known]


def workflow_tool_declaration(
    *,
    name: str,
    label: str,
    description: str,
    graph: Mapping[str, Any],
    configuration: Sequence[Mapping[str, Any]],
) -> ToolDeclaration:
    variables = start_variables(graph)
    config = {c["name"]: c for c in check_configuration(configuration, variables)}
    parameters = []
    for variable in variables:
        var_name = str(variable["variable"])
        kind = INPUT_TYPES.get(str(variable.get("type") or "text-input"), "string")
        options = tuple(str(o) for o in variable.get("options") or []) if kind == "select" else ()
        item = config[var_name]
        parameters.append(
            ToolParameter(
                name=var_name,
                type=kind,
                required=bool(variable.get("required")),
                form=item["form"],
                label=str(variable.get("label") or var_name),
                human_description=item["description"],
                llm_description=item["description"],
                default=variable.get("default") if variable.get("default") != "" else None,
                options=options,
            )
        )
    return ToolDeclaration(
        name=name,
        label=label or name,
        description=description,
        llm_description=description,
        parameters=tuple(parameters),
    )
