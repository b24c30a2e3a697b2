"""Loop containers: loop variables, break conditions, loop-end, the round limit."""

from apps.workflows.engine.events import ContainerFinished, ContainerNext
from tests.workflows.helpers import run_dsl_file


def test_break_condition_ends_the_loop():
    result = run_dsl_file("loop_counter.yml", {"step": 3, "limit": 10, "hard_stop": 100})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"total": 12, "seen": [3, 6, 9, 12]}
    rounds = [e for e in result.events if isinstance(e, ContainerNext)]
    assert [e.index for e in rounds] == [0, 1, 2, 3]
    assert result.node("loop").outputs == {"total": 12, "seen": [3, 6, 9, 12]}


def test_loop_end_node_exits_at_once():
    result = run_dsl_file("loop_counter.yml", {"step": 5, "limit": 1000, "hard_stop": 12})
    assert result.outputs == {"total": 15, "seen": [5, 10, 15]}
    finished = next(e for e in result.events if isinstance(e, ContainerFinished))
    assert finished.kind == "loop" and finished.steps == 3


def test_loop_count_caps_the_rounds():
    result = run_dsl_file("loop_counter.yml", {"step": 1, "limit": 1000, "hard_stop": 1000})
    assert result.outputs["total"] == 10 and len(result.outputs["seen"]) == 10


def test_bad_input_fails_the_run_before_the_loop():
    result = run_dsl_file("loop_counter.yml", {"step": "x", "limit": 5, "hard_stop": 9})
    assert result.status == "failed"
