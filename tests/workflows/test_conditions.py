"""Dify's comparison operators (engine/conditions.py): every operator, true and false."""

from __future__ import annotations

from typing import Any

import pytest

from apps.workflows.engine.conditions import (
    OPERATORS,
    compare,
    evaluate,
    evaluate_files,
    validate_conditions,
)
from apps.workflows.engine.errors import NodeConfigError, NodeError
from apps.workflows.engine.variables import VariablePool

CASES: list[tuple[Any, str, Any, bool]] = [
    # contains / not contains: substring of a string, element of an array
    ("hello world", "contains", "lo w", True),
    ("hello world", "contains", "bye", False),
    (["a", "b"], "contains", "b", True),
    (["a", "b"], "contains", "c", False),
    ([1, 2, 3], "contains", "2", True),
    (None, "contains", "a", False),
    ("hello", "not contains", "x", True),
    ("hello", "not contains", "ell", False),
    (["a"], "not contains", "a", False),
    (["a"], "not contains", "z", True),
    (None, "not contains", "a", True),
    # start with / end with
    ("hello", "start with", "he", True),
    ("hello", "start with", "lo", False),
    (None, "start with", "he", False),
    ("hello", "end with", "lo", True),
    ("hello", "end with", "he", False),
    # is / is not: strings, booleans ("true"/"false"), numbers
    ("abc", "is", "abc", True),
    ("abc", "is", "abcd", False),
    (True, "is", "true", True),
    (False, "is", "true", False),
    (False, "is", "false", True),
    (True, "is", True, True),
    (3, "is", "3", True),
    (None, "is", "", False),
    ("abc", "is not", "abd", True),
    ("abc", "is not", "abc", False),
    (True, "is not", "false", True),
    (None, "is not", "x", False),
    # empty / not empty
    (None, "empty", None, True),
    ("", "empty", None, True),
    ([], "empty", None, True),
    ({}, "empty", None, True),
    ("a", "empty", None, False),
    ([0], "empty", None, False),
    (0, "empty", None, False),
    ("a", "not empty", None, True),
    ([1], "not empty", None, True),
    ({"k": 1}, "not empty", None, True),
    ("", "not empty", None, False),
    (None, "not empty", None, False),
    # in / not in: the value is one of the expected list
    ("b", "in", ["a", "b"], True),
    ("c", "in", ["a", "b"], False),
    (2, "in", ["1", "2"], True),
    ("b", "in", '["a", "b"]', True),
    (None, "in", ["a"], False),
    ("c", "not in", ["a", "b"], True),
    ("a", "not in", ["a", "b"], False),
    (None, "not in", ["a"], True),
    # all of: every expected element is in the actual list
    (["a", "b", "c"], "all of", ["a", "c"], True),
    (["a", "b"], "all of", ["a", "z"], False),
    ([], "all of", ["a"], False),
    (None, "all of", ["a"], False),
    # numbers: the expected string is converted
    (5, "=", "5", True),
    (5, "=", "5.0", True),
    (5, "=", "6", False),
    (2.5, "=", "2.5", True),
    (True, "=", "true", True),
    (None, "=", "1", False),
    (5, "≠", "6", True),
    (5, "≠", "5", False),
    (5, ">", "3", True),
    (5, ">", "5", False),
    (2, "<", "3", True),
    (3, "<", "3", False),
    (3, "≥", "3", True),
    (2, "≥", "3", False),
    (3, "≤", "3", True),
    (4, "≤", "3.5", False),
    ("10", ">", "9", True),  # numeric text compares as a number
    (1.5, ">", 1, True),
    # null / not null / exists / not exists
    (None, "null", None, True),
    ("", "null", None, False),
    (0, "not null", None, True),
    (None, "not null", None, False),
    ("x", "exists", None, True),
    (False, "exists", None, True),
    (None, "exists", None, False),
    (None, "not exists", None, True),
    ("x", "not exists", None, False),
]


@pytest.mark.parametrize(("actual", "operator", "expected", "result"), CASES)
def test_compare(actual: Any, operator: str, expected: Any, result: bool) -> None:
    assert compare(actual, operator, expected) is result


def test_every_operator_has_a_true_and_a_false_case() -> None:
    for operator in OPERATORS:
        outcomes = {r for _, op, _, r in CASES if op == operator}
        assert outcomes == {True, False}, operator


@pytest.mark.parametrize(
    ("actual", "operator", "expected", "message"),
    [
        (5, ">", "abc", "'>': expected value 'abc' is not a number"),
        ("abc", "<", "3", "'<': value 'abc' is not a number"),
        ([1], "=", "1", "'=' needs a number, got an array"),
        (5, "contains", "5", "'contains' needs a string or an array, got a number"),
        (5, "start with", "5", "'start with' needs a string, got a number"),
        (True, "is", "maybe", "'is': expected value 'maybe' is not a boolean"),
        ("x", "in", None, "'in' needs an array"),
        ("x", "between", "y", "unknown comparison operator 'between'"),
    ],
)
def test_compare_errors_name_the_operator(
    actual: Any, operator: str, expected: Any, message: str
) -> None:
    with pytest.raises(NodeError, match=message.replace("[", r"\[")):
        compare(actual, operator, expected)


def _pool(**values: Any) -> VariablePool:
    pool = VariablePool.build(system={"query": "hi"}, conversation={"count": 2})
    pool.add_outputs("n", values)
    return pool


def _cond(name: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "variable_selector": ["n", name],
        "comparison_operator": operator,
        "value": value,
        **extra,
    }


def test_evaluate_and_or_with_process_data() -> None:
    pool = _pool(text="hello", num=3)
    ok, details = evaluate(pool, [_cond("text", "contains", "ell"), _cond("num", ">", "2")], "and")
    assert ok is True
    assert details == [
        {
            "actual_value": "hello",
            "expected_value": "ell",
            "comparison_operator": "contains",
            "result": True,
        },
        {"actual_value": 3, "expected_value": "2", "comparison_operator": ">", "result": True},
    ]
    ok, _ = evaluate(pool, [_cond("text", "is", "x"), _cond("num", "=", "3")], "or")
    assert ok is True
    ok, _ = evaluate(pool, [_cond("text", "is", "x"), _cond("num", "=", "4")], "or")
    assert ok is False


def test_evaluate_short_circuits_like_dify() -> None:
    pool = _pool(text="hello", num=3)
    # The second condition would raise (not a number) but is never reached.
    ok, details = evaluate(pool, [_cond("num", "<", "1"), _cond("num", ">", "oops")], "and")
    assert (ok, len(details)) == (False, 1)
    ok, details = evaluate(pool, [_cond("num", ">", "1"), _cond("num", ">", "oops")], "or")
    assert (ok, len(details)) == (True, 1)


def test_evaluate_renders_templates_in_expected_values() -> None:
    pool = _pool(text="hello", limit=3, num=5, names=["a", "b"])
    ok, details = evaluate(pool, [_cond("num", ">", "{{#n.limit#}}")], "and")
    assert ok and details[0]["expected_value"] == "3"
    ok, _ = evaluate(pool, [_cond("text", "start with", "{{#sys.query#}}")], "and")
    assert ok is False
    ok, _ = evaluate(pool, [_cond("text", "in", ["{{#sys.query#}}", "hello"])], "and")
    assert ok is True
    ok, _ = evaluate(pool, [_cond("text", "not in", "{{#n.names#}}")], "and")
    assert ok is True  # a rendered JSON array is read back as an array


def test_evaluate_missing_variable_and_conversation_variables() -> None:
    pool = _pool()
    ok, details = evaluate(pool, [_cond("nothing", "not exists")], "and")
    assert ok and details[0]["actual_value"] is None
    condition = {
        "variable_selector": ["conversation", "count"],
        "comparison_operator": "≥",
        "value": "2",
    }
    assert evaluate(pool, [condition], "and")[0] is True


def test_empty_condition_list_matches_dify() -> None:
    assert evaluate(_pool(), [], "and")[0] is True
    assert evaluate(_pool(), [], "or")[0] is False


def _sub(key: str, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "comparison_operator": operator, "value": value}


FILES = [
    {"type": "image", "filename": "cat.png", "extension": "png", "mime_type": "image/png",
     "transfer_method": "local_file", "size": 2048, "remote_url": None},
    {"type": "document", "filename": "report.pdf", "extension": ".pdf",
     "mime_type": "application/pdf", "transfer_method": "remote_url", "size": 10,
     "remote_url": "https://example.com/report.pdf"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "logical", "result"),
    [
        ([_sub("type", "is", "image")], "and", True),
        ([_sub("type", "is", "video")], "and", False),
        ([_sub("extension", "is", "pdf")], "and", True),
        ([_sub("name", "end with", ".png")], "and", True),
        ([_sub("size", ">", "4096")], "and", False),
        ([_sub("size", "≤", "2048")], "and", True),
        ([_sub("mime_type", "start with", "image/")], "", True),
        ([_sub("transfer_method", "in", ["local_file"])], "", True),
        ([_sub("url", "contains", "example.com")], "and", True),
        # a negative operator must hold for every file
        ([_sub("type", "is not", "image")], "and", False),
        ([_sub("type", "not in", ["video"])], "and", True),
        (
            [
                _sub("type", "is", "video"),
                _sub("size", "<", "100"),
            ],
            "or",
            True,
        ),
        (
            [
                _sub("type", "is", "video"),
                _sub("size", "<", "100"),
            ],
            "and",
            False,
        ),
    ],
)  # fmt: skip
def test_sub_variable_conditions_on_files(
    conditions: list[dict[str, Any]], logical: str, result: bool
) -> None:
    assert evaluate_files(FILES, conditions, logical) is result
    pool = _pool(files=FILES)
    condition = _cond(
        "files",
        "contains",
        sub_variable_condition={"logical_operator": logical, "conditions": conditions},
    )
    assert evaluate(pool, [condition], "and")[0] is result


def test_validate_conditions_names_the_field() -> None:
    with pytest.raises(NodeConfigError, match=r"conditions\[1\]\.comparison_operator"):
        validate_conditions("n1", "conditions", [_cond("a", "is", "x"), _cond("a", "like", "x")])
    with pytest.raises(NodeConfigError, match=r"conditions\[0\]\.variable_selector"):
        validate_conditions("n1", "conditions", [{"comparison_operator": "is"}])
    bad_key = _cond(
        "f",
        "contains",
        sub_variable_condition={"conditions": [{"key": "colour", "comparison_operator": "is"}]},
    )
    with pytest.raises(NodeConfigError, match=r"sub_variable_condition\.conditions\[0\]\.key"):
        validate_conditions("n1", "conditions", [bad_key])
    assert validate_conditions("n1", "conditions", None) == []
