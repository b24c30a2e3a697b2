"""Dify DSL app files (YAML): load, validate, dump. Unknown fields are kept as they are.

kind: app
version: "0.x.y"
app: {name, mode, description, icon, icon_background, use_icon_as_answer_icon}
dependencies: [...]
model_config: {...}        # chat, completion, agent-chat
workflow: {graph: {nodes, edges, viewport}, features, environment_variables,
           conversation_variables}   # workflow, advanced-chat
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import GraphValidationError
from .graph import Graph, parse_graph

CURRENT_VERSION = "0.3.0"
APP_MODES = ("chat", "completion", "agent-chat", "advanced-chat", "workflow")
GRAPH_MODES = ("advanced-chat", "workflow")
SECRET_MASK = ""


class DSLError(ValueError):
    """The file is not a usable Dify app file; the message says where."""


@dataclass
class AppDSL:
    document: dict[str, Any]  # the whole file as loaded (unknown keys included)
    warnings: list[str] = field(default_factory=list)

    @property
    def app(self) -> dict[str, Any]:
        return self.document.setdefault("app", {})

    @property
    def mode(self) -> str:
        return str(self.app.get("mode", ""))

    @property
    def name(self) -> str:
        return str(self.app.get("name") or "Untitled app")

    @property
    def workflow(self) -> dict[str, Any]:
        return self.document.get("workflow") or {}

    @property
    def graph(self) -> dict[str, Any]:
        return self.workflow.get("graph") or {}

    @property
    def environment_variables(self) -> list[dict[str, Any]]:
        return list(self.workflow.get("environment_variables") or [])

    @property
    def conversation_variables(self) -> list[dict[str, Any]]:
        return list(self.workflow.get("conversation_variables") or [])

    @property
    def features(self) -> dict[str, Any]:
        return dict(self.workflow.get("features") or {})

    @property
    def model_config(self) -> dict[str, Any]:
        return dict(self.document.get("model_config") or {})

    @property
    def dependencies(self) -> list[dict[str, Any]]:
        return list(self.document.get("dependencies") or [])

    def parse_graph(self) -> Graph:
        return parse_graph(self.graph, mode=self.mode)


def load_dsl(text: str | bytes) -> AppDSL:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DSLError(f"not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise DSLError("the file must be a YAML mapping (kind: app, app: …, workflow: …)")
    kind = document.get("kind", "app")
    if kind != "app":
        raise DSLError(f"kind: expected 'app', got {kind!r}")
    app = document.get("app")
    if not isinstance(app, dict):
        raise DSLError("app: missing (needs at least name and mode)")
    mode = app.get("mode")
    if mode not in APP_MODES:
        raise DSLError(f"app.mode: must be one of {', '.join(APP_MODES)}, got {mode!r}")
    dsl = AppDSL(document=document)
    version = str(document.get("version", ""))
    if not version:
        dsl.warnings.append("version: missing; read as the current DSL version")
    elif _version_tuple(version) > _version_tuple(CURRENT_VERSION):
        dsl.warnings.append(
            f"version: {version} is newer than {CURRENT_VERSION}; unknown fields are kept"
        )
    if mode in GRAPH_MODES:
        workflow = document.get("workflow")
        if not isinstance(workflow, dict) or not isinstance(workflow.get("graph"), dict):
            raise DSLError(f"workflow.graph: required for a {mode} app")
        try:
            dsl.parse_graph()
        except GraphValidationError as exc:
            raise DSLError("workflow.graph: " + "; ".join(exc.problems)) from exc
    elif not isinstance(document.get("model_config", {}), dict):
        raise DSLError("model_config: must be a mapping")
    return dsl


def dump_dsl(document: dict[str, Any], *, include_secrets: bool = False) -> str:
    """YAML for export: the newest version string, secret environment values blanked."""
    out = copy.deepcopy(document)
    out["version"] = CURRENT_VERSION
    out.setdefault("kind", "app")
    workflow = out.get("workflow")
    if isinstance(workflow, dict) and not include_secrets:
        for variable in workflow.get("environment_variables") or []:
            if isinstance(variable, dict) and variable.get("value_type") == "secret":
                variable["value"] = SECRET_MASK
    return yaml.safe_dump(out, allow_unicode=True, sort_keys=False)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
