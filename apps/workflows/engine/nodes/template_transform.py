"""template-transform: renders a Jinja2 template (sandboxed) over selected variables."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext

MAX_OUTPUT = 400_000  # characters, like Dify's TEMPLATE_TRANSFORM_MAX_LENGTH
_environment = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


def variable_list(node: Node, field: str = "variables") -> list[tuple[str, list[str]]]:
    raw = node.data.get(field) or []
    if not isinstance(raw, list):
        raise node.fail_config(field, "must be a list of {variable, value_selector}")
    found = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("variable"):
            raise node.fail_config(f"{field}[{position}].variable", "is required")
        selector = node.selector(f"{field}[{position}].value_selector", item.get("value_selector"))
        found.append((str(item["variable"]), selector))
    return found


def render_jinja(template: Any, values: dict[str, Any]) -> str:
    try:
        return str(template.render(**values))
    except TemplateError as exc:
        raise NodeError(f"template error: {exc}") from exc


@register
class TemplateTransformNode(Node):
    node_type = "template-transform"

    def parse(self) -> None:
        self.variables = variable_list(self)
        source = self.data.get("template", "")
        if not isinstance(source, str):
            raise self.fail_config("template", "must be a string")
        try:
            self.template = _environment.from_string(source)
        except TemplateError as exc:
            raise self.fail_config("template", f"invalid Jinja2: {exc}") from exc

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        values = {name: pool.get_or(selector) for name, selector in self.variables}
        output = render_jinja(self.template, values)
        if len(output) > MAX_OUTPUT:
            raise NodeError(f"output is longer than {MAX_OUTPUT} characters")
        return NodeResult(inputs=values, outputs={"output": output})
