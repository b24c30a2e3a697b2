"""bench/sandbox.py runs and ends with its JSON figures (no timing assertions: the target is
checked by the script's own figures, not by tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "trivial_call_ms_p50",
    "trivial_call_ms_p99",
    "js_call_ms_p50",
    "cold_start_ms_p50",
    "cold_start_js_ms_p50",
    "back_to_back_ms_p50",
    "targets",
    "meets_targets",
    "isolated",
}


def test_sandbox_bench_prints_a_table_then_its_figures_as_json() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sandbox.py"), "--quick", "--json", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    if not figures["isolated"]:  # a host that cannot isolate says so instead of failing
        assert figures["trivial_call_ms_p50"] is None
        return
    assert any("Python, warm pool" in line for line in lines)
    assert figures.keys() >= REQUIRED
    assert figures["trivial_call_ms_p50"] > 0 and figures["cold_start_ms_p50"] > 0
    assert figures["targets"] == {"trivial_call_ms_p50_max": 50.0}
