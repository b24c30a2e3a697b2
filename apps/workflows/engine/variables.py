"""The variable pool: values by selector ``[node_id, name, *path]`` and Dify's templates.

Reserved first parts: ``sys`` (query, files, conversation_id, user_id, app_id, workflow_id,
workflow_run_id, dialogue_count), ``env`` (environment variables) and ``conversation``
(conversation variables). Iteration and loop bodies run in a child pool that reads through
to its parent and writes locally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import VariableNotFoundError

SYSTEM = "sys"
ENVIRONMENT = "env"
CONVERSATION = "conversation"
RESERVED = frozenset({SYSTEM, ENVIRONMENT, CONVERSATION})

# {{#node_id.var#}}, {{#sys.query#}}, {{#node.var.path.deeper#}}
TEMPLATE_PATTERN = re.compile(
    r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}"
)
_MISSING = object()


def to_text(value: Any) -> str:
    """How a value reads inside a text template (Dify's segment text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def template_selectors(template: str) -> list[tuple[str, ...]]:
    return [tuple(m.group(1).split(".")) for m in TEMPLATE_PATTERN.finditer(template or "")]


class VariablePool:
    __slots__ = ("_parent", "_secrets", "_values")

    def __init__(self, parent: VariablePool | None = None):
        self._values: dict[str, dict[str, Any]] = {}
        self._parent = parent
        self._secrets: set[str] = set() if parent is None else parent._secrets

    @classmethod
    def build(
        cls,
        *,
        system: Mapping[str, Any] | None = None,
        environment: Iterable[Mapping[str, Any]] = (),
        conversation: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        start_node_id: str | None = None,
    ) -> VariablePool:
        pool = cls()
        pool._values[SYSTEM] = dict(system or {})
        env: dict[str, Any] = {}
        for variable in environment:
            name = str(variable.get("name", ""))
            value = variable.get("value")
            env[name] = value
            if variable.get("value_type") == "secret" and value:
                pool._secrets.add(str(value))
        pool._values[ENVIRONMENT] = env
        pool._values[CONVERSATION] = dict(conversation or {})
        if start_node_id is not None:
            pool._values[start_node_id] = dict(inputs or {})
        return pool

    def child(self) -> VariablePool:
        return VariablePool(parent=self)

    # -- writing -------------------------------------------------------------------------
    def add(self, node_id: str, name: str, value: Any) -> None:
        self._values.setdefault(node_id, {})[name] = value

    def add_outputs(self, node_id: str, outputs: Mapping[str, Any]) -> None:
        self._values.setdefault(node_id, {}).update(outputs)

    def set_selector(self, selector: Sequence[str], value: Any) -> None:
        """Write ``[node, name]``: used by the assigner for conversation/loop variables.
        Writes go to the pool that already holds the variable (a loop variable lives in the
        loop's pool, a conversation variable in the root)."""
        node_id, name = selector[0], selector[1]
        pool: VariablePool | None = self
        while pool is not None:
            if name in pool._values.get(node_id, {}):
                pool._values[node_id][name] = value
                return
            pool = pool._parent
        self.add(node_id, name, value)

    # -- reading -------------------------------------------------------------------------
    def node_values(self, node_id: str) -> dict[str, Any] | None:
        pool: VariablePool | None = self
        while pool is not None:
            found = pool._values.get(node_id)
            if found is not None:
                return found
            pool = pool._parent
        return None

    def get(self, selector: Sequence[str]) -> Any:
        value = self.get_or(selector, _MISSING)
        if value is _MISSING:
            raise VariableNotFoundError(selector)
        return value

    def get_or(self, selector: Sequence[str], default: Any = None) -> Any:
        if len(selector) < 2:
            return default
        node_id, name = selector[0], selector[1]
        pool: VariablePool | None = self
        value: Any = _MISSING
        while pool is not None:
            values = pool._values.get(node_id)
            if values is not None and name in values:
                value = values[name]
                break
            pool = pool._parent
        if value is _MISSING:
            return default
        for part in selector[2:]:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return default
        return value

    def has(self, selector: Sequence[str]) -> bool:
        return self.get_or(selector, _MISSING) is not _MISSING

    def system(self, name: str, default: Any = None) -> Any:
        return self.get_or((SYSTEM, name), default)

    def conversation_variables(self) -> dict[str, Any]:
        root = self
        while root._parent is not None:
            root = root._parent
        return dict(root._values.get(CONVERSATION, {}))

    # -- templates ---------------------------------------------------------------------------
    def render(self, template: str) -> str:
        """Replace ``{{#node.var#}}`` with the values' text; unknown variables become ''."""
        if "{{#" not in template:
            return template
        return TEMPLATE_PATTERN.sub(
            lambda m: to_text(self.get_or(m.group(1).split("."), None)), template
        )

    def mask(self, text: str) -> str:
        """Hide secret environment values in text bound for logs, records and exports."""
        for secret in self._secrets:
            text = text.replace(secret, "******")
        return text

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)
