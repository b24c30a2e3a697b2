"""Iteration containers: serial and parallel rounds, error modes, events."""

import time

import pytest

from apps.workflows.engine.events import ContainerFinished, ContainerNext, ContainerStarted
from tests.workflows import testing_nodes  # noqa: F401
from tests.workflows.helpers import graph, run

START = {"id": "start", "type": "start",
         "variables": [{"variable": "items", "type": "json_object"}]}  # fmt: skip


def iteration_graph(body, *, parallel=False, error_mode="terminated", flatten=True, items=None):
    nodes = [
        {"id": "start", "type": "start", "variables": []},
        {"id": "it", "type": "iteration", "iterator_selector": ["start", "items"],
         "output_selector": ["body", "output"], "is_parallel": parallel, "parallel_nums": 4,
         "error_handle_mode": error_mode, "flatten_output": flatten, "start_node_id": "it_start"},
        {"id": "it_start", "type": "iteration-start", "parentId": "it"},
        {**body, "id": "body", "parentId": "it"},
        {"id": "end", "type": "end",
         "outputs": [{"variable": "out", "value_selector": ["it", "output"]}]},
    ]  # fmt: skip
    edges = [("start", "it"), ("it_start", "body"), ("it", "end")]
    return graph(nodes, edges)


def upper_body():
    return {"type": "template-transform", "template": "{{ i }}:{{ x | upper }}",
            "variables": [{"variable": "x", "value_selector": ["it", "item"]},
                          {"variable": "i", "value_selector": ["it", "index"]}]}  # fmt: skip


def test_serial_iteration_collects_outputs_in_order():
    result = run(iteration_graph(upper_body()), {"items": ["a", "b", "c"]})
    assert result.outputs == {"out": ["0:A", "1:B", "2:C"]}
    kinds = [type(e) for e in result.events]
    assert kinds.count(ContainerStarted) == 1 and kinds.count(ContainerFinished) == 1
    assert kinds.count(ContainerNext) == 3
    body_runs = [e for e in result.events if getattr(e, "node_id", None) == "body"
                 and type(e).__name__ == "NodeFinished"]  # fmt: skip
    assert [e.iteration_index for e in body_runs] == [0, 1, 2]
    assert all(e.parent_id == "it" for e in body_runs)


def test_parallel_iteration_overlaps_and_keeps_order():
    body = {"type": "test-sleep", "seconds": 0.25, "value": "v"}
    g = iteration_graph(body, parallel=True)
    # output_selector points at body.output; the sleep node outputs "value": re-point it
    g.nodes["it"].output_selector = ["body", "value"]
    started = time.perf_counter()
    result = run(g, {"items": [1, 2, 3, 4]})
    assert result.outputs == {"out": ["v", "v", "v", "v"]}
    assert time.perf_counter() - started < 0.8


def test_empty_or_missing_list_gives_empty_output():
    assert run(iteration_graph(upper_body()), {"items": []}).outputs == {"out": []}


def test_non_list_input_fails_with_a_clear_error():
    result = run(iteration_graph(upper_body()), {"items": {"a": 1}})
    assert result.status == "failed" and "is not a list" in result.error


@pytest.mark.parametrize(
    ("mode", "status", "out"),
    [
        ("terminated", "failed", None),
        ("continue-on-error", "succeeded", ["1:B", "2:C", None]),
        ("remove-abnormal-output", "succeeded", ["1:B", "2:C"]),
    ],
)
def test_error_modes(mode, status, out):
    body = {"type": "template-transform",
            "template": "{% if i == 2 %}{{ 1/0 }}{% endif %}{{ i + 1 }}:{{ x | upper }}",
            "variables": [{"variable": "x", "value_selector": ["it", "item"]},
                          {"variable": "i", "value_selector": ["it", "index"]}]}  # fmt: skip
    result = run(iteration_graph(body, error_mode=mode), {"items": ["b", "c", "d"]})
    if status == "failed":
        assert result.status == "failed" and "iteration 2 failed" in result.error
    else:
        assert result.status == "succeeded", result.error
        assert result.outputs["out"] == out


def test_flatten_output_joins_lists():
    body = {"type": "template-transform", "template": "x"}
    g = iteration_graph(body, flatten=True)
    g.nodes["it"].output_selector = ["it", "item"]  # each round outputs its item (a list)
    assert run(g, {"items": [[1, 2], [3]]}).outputs == {"out": [1, 2, 3]}
    g.nodes["it"].flatten = False
    assert run(g, {"items": [[1, 2], [3]]}).outputs == {"out": [[1, 2], [3]]}
