"""The runner: order of events, parallel branches, skipping, error strategies, limits."""

import threading
import time

import pytest

from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.events import (
    NodeFinished,
    NodeRetry,
    NodeStarted,
    TextChunk,
    WorkflowFinished,
    WorkflowStarted,
)
from apps.workflows.engine.runner import GraphRunner, RunLimits
from tests.workflows import testing_nodes  # noqa: F401  (registers test node types)
from tests.workflows.helpers import graph, run

START = {"id": "start", "type": "start", "variables": [{"variable": "q", "type": "text-input"}]}


def tt(node_id, template, **variables):
    return {
        "id": node_id,
        "type": "template-transform",
        "template": template,
        "variables": [{"variable": k, "value_selector": v} for k, v in variables.items()],
    }


def end(**outputs):
    return {
        "id": "end",
        "type": "end",
        "outputs": [{"variable": k, "value_selector": v} for k, v in outputs.items()],
    }


def test_chain_runs_in_order_and_returns_end_outputs():
    g = graph(
        [START, tt("a", "{{ q }}!", q=["start", "q"]), tt("b", "<{{ x }}>", x=["a", "output"]),
         end(result=["b", "output"])],
        [("start", "a"), ("a", "b"), ("b", "end")],
    )  # fmt: skip
    result = run(g, {"q": "hi"})
    assert result.status == "succeeded" and result.outputs == {"result": "<hi!>"}
    kinds = [type(e).__name__ for e in result.events]
    assert kinds[0] == "WorkflowStarted" and kinds[-1] == "WorkflowFinished"
    started = [e.node_id for e in result.events if isinstance(e, NodeStarted)]
    assert started == ["start", "a", "b", "end"]
    finished = result.finished
    assert finished.total_steps == 4
    assert abs(finished.elapsed - (finished.node_time + finished.engine_time)) < 1e-6
    assert result.node("b").predecessor_node_id == "a"


def test_parallel_branches_run_at_once_and_join_once():
    nodes = [START]
    edges = []
    for name in ("x", "y", "z"):
        nodes.append({"id": name, "type": "test-sleep", "seconds": 0.3, "value": name})
        edges += [("start", name), (name, "join")]
    nodes += [
        tt("join", "{{ a }}{{ b }}{{ c }}", a=["x", "value"], b=["y", "value"], c=["z", "value"]),
        end(result=["join", "output"]),
    ]
    edges.append(("join", "end"))
    started = time.perf_counter()
    result = run(graph(nodes, edges), {"q": ""})
    elapsed = time.perf_counter() - started
    assert result.outputs == {"result": "xyz"}
    assert elapsed < 0.8, f"branches did not overlap ({elapsed:.2f}s for 3 x 0.3s)"
    threads = {result.node(n).outputs["thread"] for n in ("x", "y", "z")}
    assert len(threads) == 3
    assert [e.node_id for e in result.events if isinstance(e, NodeStarted)].count("join") == 1


def test_max_workers_bounds_parallelism():
    nodes = [START] + [
        {"id": f"n{i}", "type": "test-sleep", "seconds": 0.2, "value": i} for i in range(4)
    ]
    edges = [("start", f"n{i}") for i in range(4)]
    started = time.perf_counter()
    result = run(graph(nodes, edges), {}, limits=RunLimits(max_workers=2))
    assert result.status == "succeeded"
    assert time.perf_counter() - started >= 0.4  # 4 nodes, 2 at a time


def test_default_value_strategy_keeps_going_with_defaults():
    flaky = {
        "id": "f", "type": "test-flaky", "key": "default-value", "failures": 5,
        "error_strategy": "default-value",
        "default_value": [{"key": "value", "type": "string", "value": "fallback"}],
    }  # fmt: skip
    g = graph([START, flaky, end(result=["f", "value"], why=["f", "error_message"])],
              [("start", "f"), ("f", "end")])  # fmt: skip
    result = run(g, {})
    assert result.status == "partial-succeeded"
    assert result.outputs == {"result": "fallback", "why": "attempt 1 failed"}
    assert result.node("f").status == "exception" and result.finished.exceptions_count == 1


def test_fail_branch_routes_to_the_failure_path_and_skips_the_other():
    flaky = {"id": "f", "type": "test-flaky", "key": "fail-branch", "failures": 5,
             "error_strategy": "fail-branch"}  # fmt: skip
    g = graph(
        [START, flaky, tt("ok", "fine"), tt("bad", "handled: {{ e }}", e=["f", "error_message"]),
         tt("after_ok", "more"), end(result=["bad", "output"])],
        [("start", "f"), ("f", "ok", "source"), ("ok", "after_ok"), ("f", "bad", "fail-branch"),
         ("bad", "end")],
    )  # fmt: skip
    result = run(g, {})
    assert result.outputs == {"result": "handled: attempt 1 failed"}
    assert not result.ran("ok") and not result.ran("after_ok")


def test_fail_branch_success_takes_the_normal_path():
    flaky = {"id": "f", "type": "test-flaky", "key": "fail-branch-ok", "failures": 0,
             "error_strategy": "fail-branch"}  # fmt: skip
    g = graph(
        [START, flaky, tt("ok", "fine"), tt("bad", "bad"), end(result=["ok", "output"])],
        [("start", "f"), ("f", "ok", "source"), ("f", "bad", "fail-branch"), ("ok", "end")],
    )
    result = run(g, {})
    assert result.outputs == {"result": "fine"} and not result.ran("bad")


def test_retry_then_success():
    flaky = {
        "id": "f",
        "type": "test-flaky",
        "key": "retry",
        "failures": 2,
        "retry_config": {"retry_enabled": True, "max_retries": 3, "retry_interval": 10},
    }
    result = run(graph([START, flaky, end(r=["f", "value"])], [("start", "f"), ("f", "end")]), {})
    assert result.outputs == {"r": "ok after 3"}
    retries = [e for e in result.events if isinstance(e, NodeRetry)]
    assert [e.retry_index for e in retries] == [1, 2] and result.node("f").retries == 2


def test_failure_without_strategy_fails_the_run_and_names_the_node():
    flaky = {"id": "f", "type": "test-flaky", "key": "plain", "failures": 9, "title": "Flaky"}
    result = run(graph([START, flaky, end(r=["f", "value"])], [("start", "f"), ("f", "end")]), {})
    assert result.status == "failed" and "Flaky" in result.error and result.outputs == {}
    assert not result.ran("end")


def test_missing_required_input_fails_cleanly():
    start = {
        "id": "start",
        "type": "start",
        "variables": [{"variable": "q", "type": "text-input", "required": True}],
    }
    result = run(graph([start, end(q=["start", "q"])], [("start", "end")]), {})
    assert result.status == "failed" and "q is required" in result.error


def test_max_steps_limit():
    nodes = [START] + [tt(f"n{i}", "x") for i in range(10)]
    edges = [("start", "n0")] + [(f"n{i}", f"n{i + 1}") for i in range(9)]
    result = run(graph(nodes, edges), {}, limits=RunLimits(max_steps=5))
    assert result.status == "failed" and "max steps 5" in result.error


def test_stop_signal_ends_the_run():
    nodes = [START, {"id": "s", "type": "test-stream", "text": " ".join(["w"] * 50),
                     "delay": 0.02}, end(t=["s", "text"])]  # fmt: skip
    runner = GraphRunner(graph(nodes, [("start", "s"), ("s", "end")]))
    stop = threading.Event()
    events = []
    for event in runner.run(inputs={}, stop=stop):
        events.append(event)
        if isinstance(event, NodeStarted) and event.node_id == "s":
            threading.Timer(0.1, stop.set).start()
    assert events[-1].status in ("stopped", "failed")
    assert not any(isinstance(e, NodeStarted) and e.node_id == "end" for e in events)


def test_answer_streams_before_the_producer_finishes():
    nodes = [
        START,
        {"id": "s", "type": "test-stream", "text": "one two three four", "delay": 0.05},
        {"id": "answer", "type": "answer", "answer": "Q: {{#start.q#}} A: {{#s.text#}}."},
    ]
    result = run(graph(nodes, [("start", "s"), ("s", "answer")], mode="advanced-chat"),
                 {"q": "count"}, mode="advanced-chat")  # fmt: skip
    assert result.text == "Q: count A: one two three four."
    assert result.outputs == {"answer": "Q: count A: one two three four."}
    positions = {id(e): i for i, e in enumerate(result.events)}
    chunks = [e for e in result.events if isinstance(e, TextChunk)]
    s_done = positions[id(result.node("s"))]
    assert sum(1 for c in chunks if positions[id(c)] < s_done) >= 4  # streamed, not buffered
    assert result.node("answer").outputs["answer"] == result.text


def test_answer_joins_branches_and_streams_after_the_decision():
    # a stream runs beside a fail-branch node; the answer joins both branch paths and the
    # stream, and sends text only once the branch is decided
    nodes = [
        START,
        {"id": "s", "type": "test-stream", "text": "a b c", "delay": 0.01},
        {"id": "f", "type": "test-flaky", "key": "branch-gate", "failures": 9,
         "error_strategy": "fail-branch"},
        tt("x", "OK"),
        tt("y", "FAIL"),
        {"id": "ans", "type": "answer", "answer": "{{#x.output#}}{{#y.output#}}: {{#s.text#}}"},
    ]  # fmt: skip
    edges = [("start", "s"), ("start", "f"), ("f", "x", "source"), ("f", "y", "fail-branch"),
             ("x", "ans"), ("y", "ans"), ("s", "ans")]  # fmt: skip
    result = run(graph(nodes, edges, mode="advanced-chat"), {}, mode="advanced-chat")
    assert result.text == "FAIL: a b c" and not result.ran("x")
    first_chunk = next(i for i, e in enumerate(result.events) if isinstance(e, TextChunk))
    f_done = result.events.index(result.node("f"))
    assert first_chunk > f_done


def test_workflow_end_streams_only_llm_like_outputs_as_text_chunks():
    nodes = [START, {"id": "s", "type": "test-stream", "text": "x y"}, tt("t", "static"),
             end(a=["t", "output"], b=["s", "text"])]  # fmt: skip
    result = run(graph(nodes, [("start", "s"), ("s", "t"), ("t", "end")]), {})
    assert result.text == "x y" and result.outputs == {"a": "static", "b": "x y"}


def test_secret_environment_values_are_masked_in_errors():
    env = [{"name": "token", "value": "s3cr3t-value", "value_type": "secret"}]
    flaky = {
        "id": "f",
        "type": "template-transform",
        "template": "{{ t }}{{ 1/0 }}",
        "variables": [{"variable": "t", "value_selector": ["env", "token"]}],
    }
    result = run(graph([START, flaky], [("start", "f")]), {}, environment=env)
    assert result.status == "failed" and "s3cr3t-value" not in (result.error or "")


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        ([{"id": "a", "type": "nope"}], [], "unknown node type 'nope'"),
        ([START, tt("a", "x")], [("start", "ghost")], "dangling edge"),
        ([tt("a", "x")], [], "missing start node"),
        ([START, tt("a", "x"), tt("b", "y")], [("start", "a"), ("a", "b"), ("b", "a")],
         "cycle"),
        ([START, {"id": "e", "type": "end", "outputs": [{"variable": "x"}]}], [],
         "value_selector"),
        ([START, {"id": "it", "type": "iteration", "iterator_selector": ["start", "q"]}], [],
         "iteration-start"),
    ],
)  # fmt: skip
def test_validation_errors_name_node_and_field(nodes, edges, message):
    with pytest.raises(GraphValidationError) as info:
        graph(nodes, edges)
    assert message in str(info.value)


def test_event_types_are_complete_for_a_simple_run():
    result = run(graph([START, end(q=["start", "q"])], [("start", "end")]), {"q": "x"})
    assert isinstance(result.events[0], WorkflowStarted)
    assert isinstance(result.events[-1], WorkflowFinished)
    assert all(
        isinstance(e, NodeStarted | NodeFinished | WorkflowStarted | WorkflowFinished)
        for e in result.events
    )


def test_max_time_limit_stops_before_the_next_node():
    nodes = [START] + [{"id": f"s{i}", "type": "test-sleep", "seconds": 0.15} for i in range(4)]
    edges = [("start", "s0"), ("s0", "s1"), ("s1", "s2"), ("s2", "s3")]
    result = run(graph(nodes, edges), {}, limits=RunLimits(max_seconds=0.2))
    assert result.status == "failed" and "max execution time" in result.error
    assert result.ran("s1") and not result.ran("s3")
