#!/usr/bin/env python
"""Workflow engine overhead benchmark (engine only: no Django, no database, no network).

Graphs, each built as a Dify DSL dict and parsed once (parse time is reported on its own):

* trivial chain: start -> N trivial nodes -> end
* template chain: start -> N template-transform nodes (``{{ v }}`` of the previous output) -> end
* fan-out/fan-in: start -> N parallel trivial nodes -> one aggregator -> end

and the same trivial chain in LangGraph (a bench-only dependency, requirements-bench.txt) in
the same process, for the ratio. Figures are microseconds per node = run wall time / N, the
median of several runs after a warm-up.

    python bench/engine.py [--quick] [--json]

With --json the last line printed is one JSON object with the figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.workflows.engine.errors import GraphValidationError  # noqa: E402
from apps.workflows.engine.events import WorkflowFinished  # noqa: E402
from apps.workflows.engine.graph import Graph, parse_graph  # noqa: E402
from apps.workflows.engine.nodes import load_builtin_nodes  # noqa: E402
from apps.workflows.engine.runner import GraphRunner, RunLimits  # noqa: E402

TARGETS = {"chain_1000_ms_max": 50.0, "ratio_max": 0.2, "flat_max": 1.5}
PREFERRED_TRIVIAL = ("variable-aggregator", "template-transform")
INPUTS = {"x": "hello"}
MAX_REPEATS = 1000


class _LGState(TypedDict):
    x: str


# -- graph builders (DSL dicts) ------------------------------------------------------------
def _start() -> dict[str, Any]:
    variables = [{"variable": "x", "label": "x", "type": "text-input", "required": False}]
    return {"id": "start", "data": {"type": "start", "title": "Start", "variables": variables}}


def _end(source: str) -> dict[str, Any]:
    outputs = [{"variable": "result", "value_selector": [source, "output"]}]
    return {"id": "end", "data": {"type": "end", "title": "End", "outputs": outputs}}


def _edge(source: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}-{target}",
        "source": source,
        "target": target,
        "sourceHandle": "source",
        "targetHandle": "target",
    }


def _trivial(kind: str, node_id: str, reads: Sequence[list[str]]) -> dict[str, Any]:
    """A node that does next to nothing: pass on the first non-null of ``reads``."""
    if kind == "variable-aggregator":
        data: dict[str, Any] = {
            "type": kind,
            "title": node_id,
            "output_type": "string",
            "variables": [list(selector) for selector in reads],
            "advanced_settings": {"group_enabled": False, "groups": []},
        }
    else:  # template-transform with a constant template: no variables, nothing to render
        data = {"type": kind, "title": node_id, "template": "x", "variables": []}
    return {"id": node_id, "data": data}


def _template(node_id: str, reads: list[str]) -> dict[str, Any]:
    data = {
        "type": "template-transform",
        "title": node_id,
        "template": "{{ v }}",
        "variables": [{"variable": "v", "value_selector": reads}],
    }
    return {"id": node_id, "data": data}


def chain_dsl(n: int, make: Callable[[str, list[str]], dict[str, Any]]) -> dict[str, Any]:
    nodes, edges = [_start()], []
    previous, reads = "start", ["start", "x"]
    for i in range(n):
        node_id = f"n{i}"
        nodes.append(make(node_id, reads))
        edges.append(_edge(previous, node_id))
        previous, reads = node_id, [node_id, "output"]
    nodes.append(_end(previous))
    edges.append(_edge(previous, "end"))
    return {"nodes": nodes, "edges": edges}


def trivial_chain_dsl(kind: str, n: int) -> dict[str, Any]:
    return chain_dsl(n, lambda node_id, reads: _trivial(kind, node_id, [reads]))


def template_chain_dsl(n: int) -> dict[str, Any]:
    return chain_dsl(n, _template)


def fanout_dsl(kind: str, n: int) -> dict[str, Any]:
    nodes, edges = [_start()], []
    branches = [f"b{i}" for i in range(n)]
    for node_id in branches:
        nodes.append(_trivial(kind, node_id, [["start", "x"]]))
        edges.append(_edge("start", node_id))
        edges.append(_edge(node_id, "join"))
    nodes.append(_trivial(kind, "join", [[b, "output"] for b in branches]))
    nodes.append(_end("join"))
    edges.append(_edge("join", "end"))
    return {"nodes": nodes, "edges": edges}


# -- timing ---------------------------------------------------------------------------------
class Timing:
    """Median (and best) of ``repeats`` runs; ``record`` is the WorkflowFinished of the median
    run, for attribution."""

    def __init__(self, walls: list[float], records: list[WorkflowFinished | None]):
        order = sorted(range(len(walls)), key=walls.__getitem__)
        middle = order[(len(order) - 1) // 2]
        self.median = statistics.median(walls)
        self.best = walls[order[0]]
        self.record = records[middle]
        self.record_wall = walls[middle]


def _measure(
    run_once: Callable[[], WorkflowFinished | None],
    warmup: int,
    repeats: int,
    budget: float = 0.0,
) -> Timing:
    """Warm up, then time at least ``repeats`` runs and keep going until ``budget`` seconds
    of runs (at most MAX_REPEATS): small graphs get many runs, so their median is steady."""
    for _ in range(warmup):
        run_once()
    gc.collect()  # once, before the series: garbage from building the graph is not counted
    walls: list[float] = []
    records: list[WorkflowFinished | None] = []
    spent = 0.0
    while len(walls) < repeats or (spent < budget and len(walls) < MAX_REPEATS):
        started = time.perf_counter()
        record = run_once()
        wall = time.perf_counter() - started
        walls.append(wall)
        records.append(record)
        spent += wall
    return Timing(walls, records)


def _engine_runner(graph: Graph, n: int) -> Callable[[], WorkflowFinished]:
    runner = GraphRunner(graph, limits=RunLimits(max_steps=n * 2 + 10))

    def run_once() -> WorkflowFinished:
        last = None
        for last in runner.run(inputs=INPUTS):  # noqa: B007 - consume every event, keep the last
            pass
        if not isinstance(last, WorkflowFinished) or last.status != "succeeded":
            raise RuntimeError(f"benchmark run did not succeed: {last!r}")
        return last

    return run_once


def _parse(dsl: dict[str, Any]) -> tuple[Graph, float]:
    started = time.perf_counter()
    graph = parse_graph(dsl)
    return graph, time.perf_counter() - started


def choose_trivial_type() -> tuple[str, str]:
    """The first preferred type that is registered, parses and runs; with a note why."""
    names = load_builtin_nodes().names()
    notes = []
    for kind in PREFERRED_TRIVIAL:
        if kind not in names:
            notes.append(f"{kind} not registered")
            continue
        try:
            graph = parse_graph(trivial_chain_dsl(kind, 3))
            _engine_runner(graph, 3)()
        except (GraphValidationError, RuntimeError) as exc:
            notes.append(f"{kind} unusable: {exc}")
            continue
        return kind, "; ".join(notes)
    raise SystemExit(f"no usable trivial node type ({'; '.join(notes)})")


@dataclass(frozen=True)
class Plan:
    ns: tuple[int, ...]  # chain lengths (trivial and template chains)
    fanout_ns: tuple[int, ...]
    lg_ns: tuple[int, ...]  # LangGraph chain lengths
    warmup: int  # untimed runs first
    repeats: int  # timed runs at least
    budget: float  # seconds of timed runs per graph, for small graphs (capped by MAX_REPEATS)


def bench_engine(dsl: dict[str, Any], n: int, plan: Plan) -> tuple[Timing, float]:
    graph, parse_seconds = _parse(dsl)
    timing = _measure(_engine_runner(graph, n), plan.warmup, plan.repeats, plan.budget)
    return timing, parse_seconds


# -- LangGraph ------------------------------------------------------------------------------
def langgraph_version() -> str | None:
    try:
        from importlib.metadata import version

        import langgraph.graph  # noqa: F401
    except ImportError:
        return None
    return version("langgraph")


def _lg_step(state: _LGState) -> dict[str, Any]:
    return {"x": state["x"]}


def bench_langgraph(n: int, plan: Plan) -> tuple[Timing, float]:
    from langgraph.graph import END, START, StateGraph

    started = time.perf_counter()
    builder = StateGraph(_LGState)
    previous = START
    for i in range(n):
        builder.add_node(f"n{i}", _lg_step)
        builder.add_edge(previous, f"n{i}")
        previous = f"n{i}"
    builder.add_edge(previous, END)
    app = builder.compile()
    compile_seconds = time.perf_counter() - started
    config: Any = {"recursion_limit": n + 10}

    def run_once() -> None:
        result = app.invoke(_LGState(x=INPUTS["x"]), config=config)
        if result.get("x") != INPUTS["x"]:
            raise RuntimeError(f"langgraph run returned {result!r}")

    return _measure(run_once, plan.warmup, plan.repeats, plan.budget), compile_seconds


# -- main -----------------------------------------------------------------------------------
def _us(seconds: float, n: int) -> float:
    return round(seconds / n * 1e6, 2)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def _plan(mode: str) -> Plan:
    every = (10, 100, 1000)
    if mode == "smoke":  # hidden: one run of each graph, so the test of this script is quick
        return Plan(ns=every, fanout_ns=every, lg_ns=every, warmup=0, repeats=1, budget=0)
    if mode == "quick":
        return Plan(ns=every, fanout_ns=every, lg_ns=every, warmup=2, repeats=5, budget=0.5)
    return Plan(ns=(*every, 5000), fanout_ns=every, lg_ns=every, warmup=3, repeats=15, budget=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, N up to 1000")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = _plan(mode)
    started_all = time.perf_counter()
    load = _load()  # before this script adds its own

    kind, kind_note = choose_trivial_type()
    print(
        f"engine benchmark ({mode}): median of >= {plan.repeats} timed runs per graph "
        f"(more, up to {MAX_REPEATS}, until {plan.budget:g} s of runs) after "
        f"{plan.warmup} warm-up runs"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{platform.machine()} {platform.system()}, load average {load:.2f} "
        "(other work on the machine makes the figures noisy, the fan-out most)"
    )
    print(f"trivial node type: {kind}" + (f" ({kind_note})" if kind_note else ""))
    print()

    # trivial chain
    us_per_node: dict[str, float] = {}
    best_us_per_node: dict[str, float] = {}
    run_ms: dict[str, float] = {}
    parse_ms: dict[str, float] = {}
    chain_timing: dict[int, Timing] = {}
    print("trivial chain: start -> N nodes -> end")
    print(f"{'N':>6} {'run ms':>10} {'us/node':>10} {'best us/node':>13} {'parse ms':>10}")
    for n in plan.ns:
        timing, parse_seconds = bench_engine(trivial_chain_dsl(kind, n), n, plan)
        chain_timing[n] = timing
        us_per_node[str(n)] = _us(timing.median, n)
        best_us_per_node[str(n)] = _us(timing.best, n)
        run_ms[str(n)] = _ms(timing.median)
        parse_ms[str(n)] = _ms(parse_seconds)
        print(
            f"{n:>6} {run_ms[str(n)]:>10.3f} {us_per_node[str(n)]:>10.2f} "
            f"{best_us_per_node[str(n)]:>13.2f} {parse_ms[str(n)]:>10.2f}"
        )
    print()

    # template chain
    template_us: dict[str, float] = {}
    template_ms: dict[str, float] = {}
    template_parse_ms: dict[str, float] = {}
    print("template chain: start -> N template-transform ({{ v }} of the previous) -> end")
    print(f"{'N':>6} {'run ms':>10} {'us/node':>10} {'parse ms':>10}")
    for n in plan.ns:
        timing, parse_seconds = bench_engine(template_chain_dsl(n), n, plan)
        template_us[str(n)] = _us(timing.median, n)
        template_ms[str(n)] = _ms(timing.median)
        template_parse_ms[str(n)] = _ms(parse_seconds)
        print(
            f"{n:>6} {template_ms[str(n)]:>10.3f} {template_us[str(n)]:>10.2f} "
            f"{template_parse_ms[str(n)]:>10.2f}"
        )
    print()

    # fan-out / fan-in
    fanout: dict[str, dict[str, float]] = {}
    print("fan-out/fan-in: start -> N parallel nodes -> 1 aggregator -> end (thread pool)")
    print(f"{'N':>6} {'run ms':>10} {'us/node':>10} {'parse ms':>10}")
    for n in plan.fanout_ns:
        timing, parse_seconds = bench_engine(fanout_dsl(kind, n), n, plan)
        fanout[str(n)] = {
            "ms": _ms(timing.median),
            "us_per_node": _us(timing.median, n),
            "parse_ms": _ms(parse_seconds),
        }
        print(
            f"{n:>6} {fanout[str(n)]['ms']:>10.3f} {fanout[str(n)]['us_per_node']:>10.2f} "
            f"{fanout[str(n)]['parse_ms']:>10.2f}"
        )
    print()

    # attribution of the largest chain measured (1000 unless --smoke)
    biggest = 1000 if 1000 in chain_timing else max(chain_timing)
    timing = chain_timing[biggest]
    record = timing.record
    assert record is not None
    node_ms, engine_ms = _ms(record.node_time), _ms(record.engine_time)
    record_ms, wall_ms = _ms(record.elapsed), _ms(timing.record_wall)
    attributed = (record.node_time + record.engine_time) / timing.record_wall
    print(f"attribution, trivial chain N={biggest} (median run, wall {wall_ms:.3f} ms):")
    print(f"  node time:     {node_ms:10.3f} ms  ({record.node_time / timing.record_wall:.1%})")
    print(f"  engine time:   {engine_ms:10.3f} ms  ({record.engine_time / timing.record_wall:.1%})")
    print("  persistence: n/a (engine only)")
    print(f"  record elapsed {record_ms:10.3f} ms; outside the record {wall_ms - record_ms:.3f} ms")
    print(f"  attributed (node + engine) / wall: {attributed:.1%}")
    print()

    # LangGraph
    lg_version = langgraph_version()
    lg_us: dict[str, float] = {}
    lg_compile_ms: dict[str, float] = {}
    ratio_by_n: dict[str, float] = {}
    lg_mean: float | None = None
    ratio: float | None = None
    lg_note = None
    if lg_version is None:
        lg_note = (
            "langgraph is not importable: pip install -r requirements-bench.txt "
            "(langgraph figures are null)"
        )
        print(f"LangGraph: {lg_note}")
    else:
        print(f"LangGraph {lg_version}: the same trivial chain (StateGraph, TypedDict state)")
        print(f"{'N':>6} {'run ms':>10} {'us/node':>10} {'compile ms':>11} {'ours/theirs':>12}")
        for n in plan.lg_ns:
            lg_timing, compile_seconds = bench_langgraph(n, plan)
            lg_us[str(n)] = _us(lg_timing.median, n)
            lg_compile_ms[str(n)] = _ms(compile_seconds)
            if str(n) in us_per_node:
                ratio_by_n[str(n)] = round(us_per_node[str(n)] / lg_us[str(n)], 4)
            print(
                f"{n:>6} {_ms(lg_timing.median):>10.3f} {lg_us[str(n)]:>10.2f} "
                f"{lg_compile_ms[str(n)]:>11.2f} {ratio_by_n.get(str(n), float('nan')):>12.4f}"
            )
        common = [key for key in lg_us if key in us_per_node]
        lg_mean = round(statistics.fmean(lg_us[key] for key in common), 2)
        ours_mean = statistics.fmean(us_per_node[key] for key in common)
        ratio = round(ours_mean / lg_mean, 4)
        print(
            f"mean over N={','.join(common)}: LangGraph {lg_mean:.2f} us/node, "
            f"ours {ours_mean:.2f} us/node, ratio {ratio:.4f}"
        )
    print()

    # targets
    chain_1000_ms = run_ms.get("1000")
    flatness = None
    if "100" in us_per_node and "1000" in us_per_node:
        flatness = round(us_per_node["1000"] / us_per_node["100"], 3)
    meets = {
        "chain_1000_ms": _at_most(chain_1000_ms, TARGETS["chain_1000_ms_max"]),
        "ratio_to_langgraph": _at_most(ratio, TARGETS["ratio_max"]),
        "flat": _at_most(flatness, TARGETS["flat_max"]),
    }
    print("targets:")
    print(
        f"  1,000-node chain <= {TARGETS['chain_1000_ms_max']:g} ms: {chain_1000_ms} ms -> "
        f"{_verdict(meets['chain_1000_ms'])}"
    )
    print(
        f"  ratio to LangGraph <= {TARGETS['ratio_max']:g}: {ratio} -> "
        f"{_verdict(meets['ratio_to_langgraph'])}"
    )
    print(
        f"  flat: us/node at N=1000 / N=100 <= {TARGETS['flat_max']:g}: {flatness} -> "
        f"{_verdict(meets['flat'])}"
    )
    total = time.perf_counter() - started_all
    print(f"benchmark took {total:.1f} s")

    if args.json:
        figures = {
            "benchmark": "engine",
            "mode": mode,
            "repeats_min": plan.repeats,
            "repeat_budget_s": plan.budget,
            "warmup": plan.warmup,
            "statistic": "median",
            "trivial_node_type": kind,
            "chain_1000_ms": chain_1000_ms,
            "chain_ms": run_ms,
            "us_per_node": us_per_node,
            "best_us_per_node": best_us_per_node,
            "parse_ms": parse_ms,
            "template_us_per_node": template_us,
            "template_ms": template_ms,
            "template_parse_ms": template_parse_ms,
            "fanout": fanout,
            "attribution_n": biggest,
            "wall_ms": wall_ms,
            "record_elapsed_ms": record_ms,
            "node_time_ms": node_ms,
            "engine_time_ms": engine_ms,
            "persistence_ms": None,
            "attributed_share": round(attributed, 4),
            "langgraph_version": lg_version,
            "langgraph_note": lg_note,
            "langgraph_us_per_node": lg_mean,
            "langgraph_us_per_node_basis": "mean over N=" + ",".join(lg_us) if lg_us else None,
            "langgraph_us_per_node_by_n": lg_us,
            "langgraph_compile_ms": lg_compile_ms,
            "ratio_to_langgraph": ratio,
            "ratio_by_n": ratio_by_n,
            "flatness_1000_over_100": flatness,
            "targets": TARGETS,
            "meets_targets": meets,
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_1m_at_start": round(load, 2),
            "seconds": round(total, 2),
        }
        print(json.dumps(figures, sort_keys=True))
    return 0


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not available on this platform
        return float("nan")


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
