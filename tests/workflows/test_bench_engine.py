"""bench/engine.py runs and ends with its JSON figures (no timing assertions: the targets are
checked by the script's own figures, not by tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "engine.py"
REQUIRED = {
    "chain_1000_ms",
    "us_per_node",
    "template_us_per_node",
    "fanout",
    "langgraph_us_per_node",
    "ratio_to_langgraph",
    "node_time_ms",
    "engine_time_ms",
    "persistence_ms",
    "trivial_node_type",
    "targets",
    "meets_targets",
}


def _run(extra_path: Path | None = None) -> tuple[list[str], dict[str, Any]]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return lines, json.loads(lines[-1])


def test_engine_bench_prints_a_table_then_its_figures_as_json() -> None:
    lines, figures = _run()
    assert len(lines) > 10  # the human-readable table comes first
    assert any("persistence: n/a (engine only)" in line for line in lines)
    assert figures.keys() >= REQUIRED
    assert set(figures["us_per_node"]) == {"10", "100", "1000"}
    assert set(figures["template_us_per_node"]) == {"10", "100", "1000"}
    assert all(value > 0 for value in figures["us_per_node"].values())
    assert figures["chain_1000_ms"] > 0
    assert {"ms", "us_per_node"} <= figures["fanout"]["1000"].keys()
    assert figures["persistence_ms"] is None
    assert figures["node_time_ms"] >= 0 and figures["engine_time_ms"] >= 0
    assert figures["trivial_node_type"] in ("variable-aggregator", "template-transform")
    assert figures["targets"] == {"chain_1000_ms_max": 50.0, "ratio_max": 0.2, "flat_max": 1.5}
    if figures["langgraph_version"] is None:  # the bench-only dependency is not installed
        assert figures["langgraph_us_per_node"] is None and figures["ratio_to_langgraph"] is None
    else:
        assert figures["langgraph_us_per_node"] > 0 and figures["ratio_to_langgraph"] > 0


def test_engine_bench_without_langgraph_reports_null_instead_of_failing(tmp_path: Path) -> None:
    (tmp_path / "langgraph.py").write_text("raise ImportError('hidden by the test')\n")
    lines, figures = _run(tmp_path)
    assert any("langgraph is not importable" in line for line in lines)
    assert figures["langgraph_version"] is None
    assert figures["langgraph_us_per_node"] is None
    assert figures["ratio_to_langgraph"] is None
    assert figures["meets_targets"]["ratio_to_langgraph"] is None
    assert figures["chain_1000_ms"] > 0
