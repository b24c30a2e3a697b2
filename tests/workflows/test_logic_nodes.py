"""if-else, list-operator, variable-aggregator and assigner nodes (and their DSL files)."""

from __future__ import annotations

from typing import Any

import pytest

from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.nodes import registry
from apps.workflows.engine.variables import VariablePool
from tests.workflows.helpers import graph, run, run_dsl_file

START = {"id": "start", "type": "start", "variables": []}


def _end(**outputs: list[str]) -> dict[str, Any]:
    return {
        "id": "end",
        "type": "end",
        "outputs": [{"variable": k, "value_selector": v} for k, v in outputs.items()],
    }


def _cond(selector: list[str], operator: str, value: Any = None) -> dict[str, Any]:
    return {"variable_selector": selector, "comparison_operator": operator, "value": value}


def _ifelse(*cases: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "id": "check",
        "type": "if-else",
        "cases": [{"case_id": c, "logical_operator": "and", "conditions": cs} for c, cs in cases],
    }


def _item(name: str, operation: str, value: Any = None, kind: str = "constant") -> dict[str, Any]:
    selector = ["conversation", name]
    return {
        "variable_selector": selector,
        "input_type": kind,
        "operation": operation,
        "value": value,
    }


def _assigner(*items: dict[str, Any]) -> Any:
    node = {"id": "as", "type": "assigner", "version": "2", "items": list(items)}
    return graph([START, node], [("start", "as")])


def _bad(node: dict[str, Any]) -> str:
    with pytest.raises(GraphValidationError) as info:
        graph([START, node], [("start", node["id"])])
    return str(info.value)


# -- if-else ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "tag", "case", "ran", "verdict"),
    [
        (95, "", "excellent", "t_excellent", "excellent (95)"),
        (60, "", "pass", "t_pass", "pass (60)"),
        (10, "vip", "pass", "t_pass", "pass (10)"),  # second case, by its "or" condition
        (10, "", "false", "t_fail", "fail (10)"),
    ],
)
def test_ifelse_cases_pick_one_branch_and_the_aggregator_joins_them(
    score: int, tag: str, case: str, ran: str, verdict: str
) -> None:
    result = run_dsl_file("ifelse_cases.yml", {"score": score, "tag": tag})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"verdict": verdict, "case": case, "matched": case != "false"}
    branches = {"t_excellent", "t_pass", "t_fail"}
    assert {b for b in branches if result.ran(b)} == {ran}
    router = result.node("router")
    assert router.edge_handle == case
    assert router.outputs == {"result": case != "false", "selected_case_id": case}


OPERATOR_INPUTS = {
    "a": {
        "text": "hello world",
        "num": 42,
        "threshold": 10,
        "flag": True,
        "data": {"tags": ["red", "blue"], "blank": "", "color": "red"},
        "files": [{"type": "image", "filename": "cat.png", "extension": "png", "size": 3}],
    },
    "b": {
        "text": "goodbye",
        "num": 7,
        "threshold": 10,
        "flag": False,
        "data": {"tags": ["green"], "blank": "x", "color": "pink", "optional": "here"},
        "files": [{"type": "document", "filename": "r.pdf", "extension": "pdf", "size": 9}],
    },
}
TRUE_FOR_A = {
    "contains", "start_with", "is", "empty", "in", "all_of", "eq", "gt", "ge", "null",
    "not_exists", "files_image",
}  # fmt: skip
TRUE_FOR_B = {
    "not_contains", "end_with", "is_not", "not_empty", "not_in", "ne", "lt", "le", "not_null",
    "exists",
}  # fmt: skip


@pytest.mark.parametrize("which", ["a", "b"])
def test_every_ifelse_operator_in_a_dsl_file(which: str) -> None:
    result = run_dsl_file("ifelse_operators.yml", OPERATOR_INPUTS[which])
    assert result.status == "succeeded", result.error
    assert len(result.outputs) == 22
    expected_true = TRUE_FOR_A if which == "a" else TRUE_FOR_B
    assert {k for k, v in result.outputs.items() if v is True} == expected_true
    falses = {k for k, v in result.outputs.items() if v is False}
    assert falses == set(result.outputs) - expected_true


def test_legacy_ifelse_uses_true_and_false_handles() -> None:
    node = {
        "id": "check",
        "type": "if-else",
        "logical_operator": "and",
        "conditions": [_cond(["sys", "query"], "contains", "hi")],
    }
    edges = [("start", "check"), ("check", "end", "true")]
    g = graph([START, node, _end(r=["check", "result"])], edges)
    assert run(g, system={"query": "hi there"}).outputs == {"r": True}
    result = run(g, system={"query": "bye"})
    assert result.node("check").outputs == {"result": False, "selected_case_id": "false"}
    assert not result.ran("end")


def test_ifelse_process_data_lists_each_condition() -> None:
    query = ["sys", "query"]
    node = _ifelse(("a", [_cond(query, "is", "x")]), ("b", [_cond(query, "not empty")]))
    g = graph([START, node], [("start", "check")])
    finished = run(g, system={"query": "y"}).node("check")
    cases = finished.process_data["condition_results"]
    assert [c["case_id"] for c in cases] == ["a", "b"]
    assert cases[0]["results"] == [
        {"actual_value": "y", "expected_value": "x", "comparison_operator": "is", "result": False}
    ]
    assert cases[1]["final_result"] is True and finished.edge_handle == "b"


def test_ifelse_type_error_fails_the_run_with_the_operator_in_the_message() -> None:
    node = _ifelse(("c", [_cond(["sys", "query"], ">", "abc")]))
    result = run(graph([START, node], [("start", "check")]), system={"query": "5"})
    assert result.status == "failed"
    assert result.node("check").status == "failed"
    assert "'>': expected value 'abc' is not a number" in (result.error or "")


def test_ifelse_bad_dsl_names_the_field() -> None:
    bad_operator = _ifelse(("c", [_cond(["a", "b"], "~")]))
    assert "cases[0].conditions[0].comparison_operator" in _bad(bad_operator)
    assert "cases[0].case_id" in _bad({"id": "x", "type": "if-else", "cases": [{"conditions": []}]})
    assert "cases[0].logical_operator" in _bad(
        {"id": "x", "type": "if-else", "cases": [{"case_id": "c", "logical_operator": "xor"}]}
    )


# -- list-operator ---------------------------------------------------------------------------


def test_list_operator_dsl_file() -> None:
    products = [
        {"name": "pen", "price": 2},
        {"name": "book", "price": 12},
        {"name": "lamp", "price": 30},
        {"name": "mug", "price": 8},
    ]
    files = [
        {"type": "image", "filename": "big.png", "size": 900},
        {"type": "document", "filename": "a.pdf", "size": 5},
        {"type": "image", "filename": "small.jpg", "size": 100},
    ]
    data = {
        "products": products,
        "min_price": 8,
        "words": ["cat", "dog", "bat", "hat"],
        "numbers": [5, 3, 9, 1, 7],
    }
    result = run_dsl_file("list_operator.yml", {"data": data, "pick": 2, "files": files})
    assert result.status == "succeeded", result.error
    assert result.outputs["products"] == [products[2], products[1]]
    assert result.outputs["dearest"] == {"name": "lamp", "price": 30}
    assert result.outputs["word"] == "bat"
    assert result.outputs["numbers"] == [1, 3, 5]
    assert (result.outputs["smallest"], result.outputs["largest_kept"]) == (1, 5)
    assert [f["filename"] for f in result.outputs["images"]] == ["small.jpg", "big.png"]


def _list_graph(variable: list[str], **data: Any) -> Any:
    node = {"id": "lst", "type": "list-operator", "variable": variable, **data}
    items = {"variable": "items", "type": "json_object"}
    start = {"id": "start", "type": "start", "variables": [items]}
    return graph([start, node], [("start", "lst")])


def test_list_operator_empty_result_and_errors() -> None:
    g = _list_graph(["start", "items"])
    result = run(g, {"items": {"x": 1}})
    assert result.status == "failed" and "is not an array" in (result.error or "")
    g2 = _list_graph(["start", "items", "values"])
    empty = run(g2, {"items": {"values": []}})
    assert empty.node("lst").outputs == {"result": [], "first_record": None, "last_record": None}
    missing = run(g2, {"items": {}})
    assert "Variable not found for selector: start.items.values" in (missing.error or "")
    g3 = _list_graph(["start", "items", "values"], extract_by={"enabled": True, "serial": "5"})
    out_of_range = run(g3, {"items": {"values": [1, 2]}})
    assert "Invalid serial index: 5" in (out_of_range.error or "")


def test_list_operator_filter_type_error_fails_the_run() -> None:
    filters = {"enabled": True, "conditions": [{"comparison_operator": ">", "value": "nine"}]}
    g = _list_graph(["start", "items", "values"], filter_by=filters)
    result = run(g, {"items": {"values": [1, 2]}})
    assert result.node("lst").status == "failed"
    assert "'>': expected value 'nine' is not a number" in (result.error or "")


def test_list_operator_bad_dsl_names_the_field() -> None:
    node = {"id": "l", "type": "list-operator", "variable": ["a", "b"]}
    assert "l: variable" in _bad({"id": "l", "type": "list-operator"})
    assert "order_by.value" in _bad({**node, "order_by": {"enabled": True, "value": "up"}})
    assert "filter_by.conditions[0].comparison_operator" in _bad(
        {**node, "filter_by": {"enabled": True, "conditions": [{"comparison_operator": "~"}]}}
    )
    assert "limit.size" in _bad({**node, "limit": {"enabled": True, "size": "ten"}})


# -- variable-aggregator ---------------------------------------------------------------------


def test_aggregator_groups_and_legacy_type_name() -> None:
    assert registry.get("variable-assigner") is registry.get("variable-aggregator")
    start = {"id": "start", "type": "start", "variables": [{"variable": "b", "type": "text-input"}]}
    agg = {
        "id": "agg",
        "type": "variable-assigner",
        "output_type": "string",
        "variables": [],
        "advanced_settings": {
            "group_enabled": True,
            "groups": [
                {"groupId": "1", "group_name": "first", "output_type": "string",
                 "variables": [["start", "a"], ["start", "b"]]},
                {"groupId": "2", "group_name": "second", "output_type": "string",
                 "variables": [["start", "missing"]]},
            ],
        },
    }  # fmt: skip
    g = graph([start, agg, _end(v=["agg", "first", "output"])], [("start", "agg"), ("agg", "end")])
    result = run(g, {"b": "from b"})
    assert result.node("agg").outputs == {"first": {"output": "from b"}}
    assert result.outputs == {"v": "from b"}


def test_aggregator_bad_dsl_names_the_field() -> None:
    assert "variables[1]" in _bad(
        {"id": "g", "type": "variable-aggregator", "variables": [["a", "b"], "oops"]}
    )
    assert "advanced_settings.groups[0].group_name" in _bad(
        {"id": "g", "type": "variable-aggregator", "variables": [],
         "advanced_settings": {"group_enabled": True, "groups": [{"variables": []}]}}
    )  # fmt: skip


# -- assigner --------------------------------------------------------------------------------


def test_assigner_v1_dsl_file_updates_conversation_variables() -> None:
    result = run_dsl_file("assigner_v1.yml", system={"query": "hello"})
    assert result.status == "succeeded", result.error
    answer = result.node("answer").outputs["answer"]
    assert answer == 'last=hello all=["hello"] profile={}'
    updated = result.node("save_query").process_data["updated_variables"]
    assert updated == [
        {"name": "last_query", "selector": ["conversation", "last_query"],
         "value_type": "string", "new_value": "hello"}
    ]  # fmt: skip
    assert result.node("save_query").outputs == {}


def test_assigner_v2_dsl_file_every_operation() -> None:
    result = run_dsl_file("assigner_v2.yml", {"bonus": 4}, system={"query": "q1"})
    assert result.status == "succeeded", result.error
    # turns: (0 + 1) * 10 - 4; queries: ["q1"] + ["x", "y"] minus the last
    answer = result.node("answer").outputs["answer"]
    assert answer == 'turns=6 last=q1 queries=["q1", "x"] profile=Ada scores=[2, 3]'
    updated = result.node("assign").process_data["updated_variables"]
    assert [u["name"] for u in updated][:3] == ["turns", "turns", "turns"]
    assert updated[-1] == {
        "name": "scores", "selector": ["conversation", "scores"],
        "value_type": "array[number]", "new_value": [2, 3],
    }  # fmt: skip


def test_streamed_answer_shows_the_assigned_conversation_variables() -> None:
    result = run_dsl_file("assigner_v1.yml", system={"query": "hello"})
    assert result.text == result.node("answer").outputs["answer"]


def test_assigner_writes_persist_in_the_root_pool() -> None:
    pool = VariablePool.build(
        system={"query": "hi"}, conversation={"count": 1, "items": []}, start_node_id="start"
    )
    g = _assigner(_item("count", "+=", 2.5), _item("items", "append", ["sys", "query"], "variable"))
    result = run(g, pool=pool)
    assert result.status == "succeeded"
    assert pool.conversation_variables() == {"count": 3.5, "items": ["hi"]}


@pytest.mark.parametrize(
    ("current", "operation", "value", "message"),
    [
        ("text", "+=", 1, "'+=' needs a number variable, but conversation.v is a string"),
        (1, "+=", "2", "'+=' on conversation.v needs a number value, got string"),
        (1, "/=", 0, "division by zero"),
        ("text", "append", "x", "'append' needs an array variable"),
        ([], "extend", "x", "'extend' on conversation.v needs an array value"),
        ("text", "over-write", 5, "cannot over-write string variable conversation.v"),
    ],
)
def test_assigner_type_errors_fail_the_node(
    current: Any, operation: str, value: Any, message: str
) -> None:
    result = run(_assigner(_item("v", operation, value)), conversation={"v": current})
    assert result.status == "failed"
    assert result.node("as").status == "failed"
    assert message in (result.node("as").error or "")


def test_assigner_missing_variables_and_clear() -> None:
    assert "variable conversation.nope not found" in (
        run(_assigner(_item("nope", "clear"))).error or ""
    )
    pool = VariablePool.build(conversation={"n": 7, "s": "x", "o": {"a": 1}, "b": True})
    run(_assigner(*[_item(k, "clear") for k in ("n", "s", "o", "b")]), pool=pool)
    assert pool.conversation_variables() == {"n": 0, "s": "", "o": {}, "b": False}


def test_assigner_bad_dsl_names_the_field() -> None:
    base = {"id": "as", "type": "assigner", "version": "2"}
    item = _item("v", "+=")
    assert "items[0].operation" in _bad({**base, "items": [{**item, "operation": "**="}]})
    assert "items[0].input_type" in _bad({**base, "items": [{**item, "input_type": "magic"}]})
    assert "items[0].value" in _bad({**base, "items": [{**item, "input_type": "variable"}]})
    assert "assigned_variable_selector" in _bad({"id": "as", "type": "assigner", "version": "1"})
    assert "write_mode" in _bad(
        {"id": "as", "type": "assigner", "assigned_variable_selector": ["conversation", "v"],
         "write_mode": "merge"}
    )  # fmt: skip
