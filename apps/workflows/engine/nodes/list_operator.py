"""list-operator: filters, picks, sorts and limits an array (strings, numbers, booleans,
objects or files), in Dify's order: filter → extract → order → limit.

Filter conditions use the shared comparison operators; their ``key`` names the attribute
for files / objects and is ignored for plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..conditions import FILE_ATTRIBUTES, OPERATORS, compare, file_attribute, render_expected
from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext


@register
class ListOperatorNode(Node):
    node_type = "list-operator"

    def parse(self) -> None:
        self.variable = self.selector("variable")
        filter_by = self._section("filter_by")
        self.filter_enabled = bool(filter_by.get("enabled"))
        raw = filter_by.get("conditions") or []
        if not isinstance(raw, list):
            raise self.fail_config("filter_by.conditions", "must be a list")
        self.conditions: list[dict[str, Any]] = []
        for position, condition in enumerate(raw):
            where = f"filter_by.conditions[{position}]"
            if not isinstance(condition, dict):
                raise self.fail_config(where, "must be {key, comparison_operator, value}")
            operator = condition.get("comparison_operator", "contains")
            if operator not in OPERATORS:
                raise self.fail_config(
                    f"{where}.comparison_operator", f"unknown operator {operator!r}"
                )
            self.conditions.append({**condition, "comparison_operator": operator})
        order_by = self._section("order_by")
        self.order_enabled = bool(order_by.get("enabled"))
        self.order_key = str(order_by.get("key") or "")
        direction = order_by.get("value") or "asc"
        if direction not in ("asc", "desc"):
            raise self.fail_config("order_by.value", "must be 'asc' or 'desc'")
        self.descending = direction == "desc"
        limit = self._section("limit")
        self.limit_enabled = bool(limit.get("enabled"))
        size = limit.get("size", -1)
        if isinstance(size, bool) or not isinstance(size, int):
            raise self.fail_config("limit.size", "must be a whole number")
        self.limit_size = size
        extract_by = self._section("extract_by")
        self.extract_enabled = bool(extract_by.get("enabled"))
        self.serial = str(extract_by.get("serial") or "1")

    def _section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name) or {}
        if not isinstance(value, dict):
            raise self.fail_config(name, "must be an object")
        return value

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        value = pool.get_or(self.variable)
        where = ".".join(self.variable)
        if value is None:
            raise NodeError(f"Variable not found for selector: {where}")
        if not isinstance(value, list):
            raise NodeError(f"Variable {where} is not an array")
        items = list(value)
        if self.filter_enabled:
            for condition in self.conditions:
                items = self._filter(items, condition, pool)
        if self.extract_enabled:
            items = [self._extract(items, pool)]
        if self.order_enabled:
            items = self._order(items)
        if self.limit_enabled and self.limit_size >= 0:
            items = items[: self.limit_size]
        return NodeResult(
            inputs={"variable": value},
            outputs={
                "result": items,
                "first_record": items[0] if items else None,
                "last_record": items[-1] if items else None,
            },
        )

    def _filter(
        self, items: list[Any], condition: Mapping[str, Any], pool: VariablePool
    ) -> list[Any]:
        key = str(condition.get("key") or "")
        operator = str(condition["comparison_operator"])
        expected = render_expected(pool, condition.get("value"))
        return [item for item in items if compare(_attribute(item, key), operator, expected)]

    def _extract(self, items: list[Any], pool: VariablePool) -> Any:
        text = pool.render(self.serial).strip()
        try:
            serial = int(text)
        except ValueError:
            raise NodeError(f"extract_by.serial: {text!r} is not a whole number") from None
        if serial < 1 or serial > len(items):
            raise NodeError(f"Invalid serial index: {serial} (the list has {len(items)} items)")
        return items[serial - 1]

    def _order(self, items: list[Any]) -> list[Any]:
        def sort_key(item: Any) -> tuple[bool, Any]:
            value = _attribute(item, self.order_key)
            return (value is None, value)

        present = [item for item in items if sort_key(item)[0] is False]
        missing = [item for item in items if sort_key(item)[0] is True]
        try:
            present.sort(key=lambda item: sort_key(item)[1], reverse=self.descending)
        except TypeError as exc:
            raise NodeError(f"cannot order the list: {exc}") from exc
        return present + missing


def _attribute(item: Any, key: str) -> Any:
    if not key or not isinstance(item, Mapping):
        return item
    if key in item:
        return item[key]
    return file_attribute(item, key) if key in FILE_ATTRIBUTES else None
