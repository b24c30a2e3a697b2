"""Dify's comparison operators, shared by if-else, loop break conditions and list-operator.

``compare(actual, operator, expected)`` answers one comparison; ``evaluate(pool, conditions,
logical_operator)`` reads each condition's variable from the pool, renders ``{{#…#}}`` in its
expected value and combines the results with ``and`` / ``or`` (stopping early, as Dify does).
Conditions on an ``array[file]`` variable may carry a ``sub_variable_condition`` that tests
the files' attributes (name, type, extension, mime_type, transfer_method, url, size).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import NodeConfigError, NodeError
from .variables import VariablePool, to_text

FILE_ATTRIBUTES = frozenset(
    {"name", "type", "extension", "mime_type", "transfer_method", "url", "size", "related_id"}
)


def compare(actual: Any, operator: str, expected: Any) -> bool:
    """One comparison with Dify's semantics; raises NodeError for unusable values."""
    check = _OPERATIONS.get(operator)
    if check is None:
        raise NodeError(f"unknown comparison operator {operator!r}")
    return check(actual, expected, operator)


def validate_conditions(node_id: str, field: str, raw: Any) -> list[dict[str, Any]]:
    """Check a DSL ``conditions`` list at parse time; errors name ``field[i].<key>``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise NodeConfigError(node_id, field, "must be a list of conditions")
    for position, condition in enumerate(raw):
        where = f"{field}[{position}]"
        if not isinstance(condition, Mapping):
            raise NodeConfigError(node_id, where, "must be an object")
        _check_operator(node_id, where, condition)
        selector = condition.get("variable_selector")
        if (
            not isinstance(selector, list)
            or len(selector) < 2
            or not all(isinstance(part, str) for part in selector)
        ):
            message = "must be a selector like [node_id, variable]"
            raise NodeConfigError(node_id, f"{where}.variable_selector", message)
        sub = condition.get("sub_variable_condition")
        if sub is None:
            continue
        where = f"{where}.sub_variable_condition"
        if not isinstance(sub, Mapping) or not isinstance(sub.get("conditions") or [], list):
            raise NodeConfigError(node_id, where, "must be {logical_operator, conditions}")
        for index, item in enumerate(sub.get("conditions") or []):
            inner = f"{where}.conditions[{index}]"
            if not isinstance(item, Mapping):
                raise NodeConfigError(node_id, inner, "must be an object")
            _check_operator(node_id, inner, item)
            if item.get("key") not in FILE_ATTRIBUTES:
                message = f"must be one of {', '.join(sorted(FILE_ATTRIBUTES))}"
                raise NodeConfigError(node_id, f"{inner}.key", message)
    return [dict(c) for c in raw]


def _check_operator(node_id: str, where: str, condition: Mapping[str, Any]) -> None:
    operator = condition.get("comparison_operator")
    if operator not in OPERATORS:
        message = f"unknown operator {operator!r}"
        raise NodeConfigError(node_id, f"{where}.comparison_operator", message)


def evaluate(
    pool: VariablePool, conditions: Sequence[Mapping[str, Any]], logical_operator: str = "and"
) -> tuple[bool, list[dict[str, Any]]]:
    """Evaluate Dify conditions against the pool: (combined result, per-condition details)."""
    use_and = (logical_operator or "and") != "or"
    details: list[dict[str, Any]] = []
    for condition in conditions:
        operator = str(condition.get("comparison_operator", ""))
        selector = list(condition.get("variable_selector") or [])
        actual = pool.get_or(selector) if len(selector) >= 2 else None
        sub = condition.get("sub_variable_condition")
        if (
            isinstance(sub, Mapping)
            and sub.get("conditions")
            and isinstance(actual, list)
            and operator in ("contains", "not contains", "all of")
        ):
            expected: Any = sub
            result = evaluate_files(
                actual, sub.get("conditions") or [], sub.get("logical_operator")
            )
        else:
            expected = render_expected(pool, condition.get("value"))
            result = compare(actual, operator, expected)
        details.append(
            {
                "actual_value": actual,
                "expected_value": expected,
                "comparison_operator": operator,
                "result": result,
            }
        )
        if result != use_and:  # short-circuit: a false under "and", a true under "or"
            return result, details
    return use_and, details


def evaluate_files(
    files: Sequence[Any], conditions: Sequence[Mapping[str, Any]], logical: Any
) -> bool:
    """Sub-conditions on the attributes of a list of files. A condition holds when any file
    matches, or — for negative operators (``not …``) — when every file does."""
    results = []
    for condition in conditions:
        key = str(condition.get("key", ""))
        operator = str(condition.get("comparison_operator", ""))
        expected = condition.get("value")
        values = [file_attribute(f, key) for f in files]
        if key == "extension":
            expected = _dotted(expected)
            values = [_dotted(v) for v in values]
        matches = [compare(v, operator, expected) for v in values]
        results.append(all(matches) if "not" in operator else any(matches))
    return any(results) if logical == "or" else all(results)


def file_attribute(file: Any, key: str) -> Any:
    """An attribute of a Dify file object (a dict) as the condition operators see it."""
    if not isinstance(file, Mapping):
        return file if not key else None
    if key == "name":
        return file.get("filename", file.get("name"))
    if key == "url":
        return file.get("remote_url") or file.get("url")
    if key == "related_id":
        return file.get("related_id") or file.get("upload_file_id")
    return file.get(key)


def render_expected(pool: VariablePool, value: Any) -> Any:
    """Expand ``{{#node.var#}}`` templates in a condition's value (strings and lists)."""
    if isinstance(value, str):
        return pool.render(value)
    if isinstance(value, list):
        return [pool.render(v) if isinstance(v, str) else v for v in value]
    return value


# -- the operators ---------------------------------------------------------------------------


def _dotted(value: Any) -> Any:
    if isinstance(value, str) and value and not value.startswith("."):
        return "." + value
    return value


def _contains(actual: Any, expected: Any, operator: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, str):
        return to_text(expected) in actual
    if isinstance(actual, list | tuple):
        return _member(expected, actual)
    raise NodeError(f"'{operator}' needs a string or an array, got {_type_name(actual)}")


def _not_contains(actual: Any, expected: Any, operator: str) -> bool:
    return actual is None or not _contains(actual, expected, operator)


def _string_op(test: Callable[[str, str], bool]) -> Callable[[Any, Any, str], bool]:
    def check(actual: Any, expected: Any, operator: str) -> bool:
        if actual is None:
            return False
        if not isinstance(actual, str):
            raise NodeError(f"'{operator}' needs a string, got {_type_name(actual)}")
        return test(actual, to_text(expected))

    return check


def _is(actual: Any, expected: Any, operator: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        return actual == _to_bool(expected, operator)
    if isinstance(actual, int | float):
        return actual == _to_number(expected, operator)
    if isinstance(actual, str):
        return actual == to_text(expected)
    raise NodeError(f"'{operator}' needs a string or a boolean, got {_type_name(actual)}")


def _is_not(actual: Any, expected: Any, operator: str) -> bool:
    return actual is not None and not _is(actual, expected, operator)


def _empty(actual: Any, expected: Any, operator: str) -> bool:
    return actual is None or (isinstance(actual, str | list | tuple | dict) and len(actual) == 0)


def _numeric(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any, str], bool]:
    def check(actual: Any, expected: Any, operator: str) -> bool:
        if actual is None:
            return False
        if isinstance(actual, bool) and operator in ("=", "≠"):
            return test(actual, _to_bool(expected, operator))
        if isinstance(actual, str):
            actual = _to_number(actual, operator, what="value")
        elif isinstance(actual, bool) or not isinstance(actual, int | float):
            raise NodeError(f"'{operator}' needs a number, got {_type_name(actual)}")
        return test(actual, _to_number(expected, operator))

    return check


def _in(actual: Any, expected: Any, operator: str) -> bool:
    if actual is None:
        return False
    options = _as_list(expected)
    if isinstance(options, str):
        return to_text(actual) in options
    if options is None:
        raise NodeError(f"'{operator}' needs an array of values to compare with")
    return _member(actual, options)


def _not_in(actual: Any, expected: Any, operator: str) -> bool:
    return actual is None or not _in(actual, expected, operator)


def _all_of(actual: Any, expected: Any, operator: str) -> bool:
    if not actual:
        return False
    options = _as_list(expected)
    wanted = [options] if isinstance(options, str) else options
    if wanted is None:
        raise NodeError(f"'{operator}' needs an array of values to compare with")
    if isinstance(actual, str):
        return all(to_text(item) in actual for item in wanted)
    if not isinstance(actual, list | tuple):
        raise NodeError(f"'{operator}' needs an array, got {_type_name(actual)}")
    return all(_member(item, actual) for item in wanted)


_OPERATIONS: dict[str, Callable[[Any, Any, str], bool]] = {
    "contains": _contains,
    "not contains": _not_contains,
    "start with": _string_op(str.startswith),
    "end with": _string_op(str.endswith),
    "is": _is,
    "is not": _is_not,
    "empty": _empty,
    "not empty": lambda a, e, o: not _empty(a, e, o),
    "in": _in,
    "not in": _not_in,
    "all of": _all_of,
    "=": _numeric(lambda a, e: a == e),
    "≠": _numeric(lambda a, e: a != e),
    ">": _numeric(lambda a, e: a > e),
    "<": _numeric(lambda a, e: a < e),
    "≥": _numeric(lambda a, e: a >= e),
    "≤": _numeric(lambda a, e: a <= e),
    "null": lambda a, e, o: a is None,
    "not null": lambda a, e, o: a is not None,
    "exists": lambda a, e, o: a is not None,
    "not exists": lambda a, e, o: a is None,
}
OPERATORS = frozenset(_OPERATIONS)


# -- value helpers ---------------------------------------------------------------------------


def _member(item: Any, values: Sequence[Any]) -> bool:
    """``item in values``, also matching across text forms ("3" finds 3, "true" finds True)."""
    if any(item == v and isinstance(item, bool) == isinstance(v, bool) for v in values):
        return True
    text = to_text(item)
    return any(to_text(v) == text for v in values)


def _as_list(expected: Any) -> list[Any] | str | None:
    if isinstance(expected, list | tuple):
        return list(expected)
    if isinstance(expected, str):  # a rendered template may be a JSON array
        parsed = None
        if expected.strip().startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(expected)
        return parsed if isinstance(parsed, list) else expected
    return None if expected is None else [expected]


def _to_number(value: Any, operator: str, what: str = "expected value") -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = to_text(value).strip()
    for convert in (int, float):
        with contextlib.suppress(ValueError):
            return convert(text)
    raise NodeError(f"'{operator}': {what} {text!r} is not a number")


def _to_bool(value: Any, operator: str) -> bool:
    if isinstance(value, bool):
        return value
    text = to_text(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise NodeError(f"'{operator}': expected value {text!r} is not a boolean (true/false)")


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", dict: "an object"}
    names.update({list: "an array", tuple: "an array"})
    return names.get(type(value), type(value).__name__)
