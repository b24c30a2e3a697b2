#!/usr/bin/env python
"""Code sandbox latency benchmark (apps/workflows/sandbox; no Django, no database).

Times ``SandboxCodeRunner.run`` — the code node's call — for a trivial Python
``def main(): return {"a": 1}`` and its JavaScript twin:

* warm: the pool holds its ready workers when the call starts (the script waits for the
  background refill between samples), i.e. the latency a code node sees on a warm server;
* back to back: calls one after another without waiting, the refill competing for the CPU;
* cold: no pool (``pool_size=0``), so every call starts and isolates a worker first.

    python bench/sandbox.py [--quick] [--json]

With --json the last line printed is one JSON object with the figures (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apps.workflows.engine.errors import NodeError  # noqa: E402
from apps.workflows.sandbox import SandboxCodeRunner, SandboxLimits  # noqa: E402

TARGETS = {"trivial_call_ms_p50_max": 50.0}
PYTHON = 'def main():\n    return {"a": 1}'
JAVASCRIPT = "function main() { return {a: 1} }"
CODE = {"python3": PYTHON, "javascript": JAVASCRIPT}


@dataclass(frozen=True)
class Plan:
    warm: int
    warm_js: int
    back_to_back: int
    cold: int


PLANS = {
    "smoke": Plan(warm=5, warm_js=3, back_to_back=5, cold=2),
    "quick": Plan(warm=200, warm_js=100, back_to_back=100, cold=20),
    "full": Plan(warm=1000, warm_js=500, back_to_back=500, cold=100),
}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(samples_ms), 3),
        "p99": round(_percentile(samples_ms, 0.99), 3),
        "mean": round(statistics.fmean(samples_ms), 3),
        "min": round(min(samples_ms), 3),
        "max": round(max(samples_ms), 3),
    }


def _call(runner: SandboxCodeRunner, language: str) -> float:
    started = time.perf_counter()
    result = runner.run(language=language, code=CODE[language], inputs={})
    elapsed = (time.perf_counter() - started) * 1000
    if result != {"a": 1}:
        raise SystemExit(f"unexpected result {result!r}")
    return elapsed


def bench_warm(runner: SandboxCodeRunner, language: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        if not runner.warm(language, timeout=60):
            raise SystemExit(f"the {language} pool did not fill")
        samples.append(_call(runner, language))
    return samples


def bench_loop(runner: SandboxCodeRunner, language: str, n: int) -> tuple[list[float], float]:
    runner.warm(language, timeout=60)
    started = time.perf_counter()
    samples = [_call(runner, language) for _ in range(n)]
    return samples, n / (time.perf_counter() - started)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _row(label: str, summary: dict[str, float]) -> None:
    print(
        f"{label:<34} {summary['p50']:>9.2f} {summary['p99']:>9.2f} "
        f"{summary['mean']:>9.2f} {summary['min']:>9.2f} {summary['max']:>9.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (under a minute)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = PLANS[mode]
    load = _load()
    started_all = time.perf_counter()
    warm_runner = SandboxCodeRunner(SandboxLimits(pool_size=2))
    cold_runner = SandboxCodeRunner(SandboxLimits(pool_size=0))
    print(f"code sandbox benchmark ({mode}): SandboxCodeRunner.run of a trivial main()")
    print(
        f"python {platform.python_version()}, node {warm_runner.spec.node}, "
        f"{os.cpu_count()} cores, {platform.machine()} {platform.system()}, euid "
        f"{os.geteuid()}, load average {load:.2f} (other work on the machine adds noise)"
    )
    figures: dict[str, Any] = {"mode": mode, "load_average_1m_at_start": round(load, 2)}
    try:
        _call(warm_runner, "python3")
    except NodeError as exc:
        print(f"the sandbox cannot run here: {exc}")
        figures.update(isolated=False, error=str(exc), trivial_call_ms_p50=None)
        figures["seconds"] = round(time.perf_counter() - started_all, 1)
        if args.json:
            print(json.dumps(figures))
        return 0
    javascript = warm_runner.spec.node is not None
    print(f"{'':<34} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'min ms':>9} {'max ms':>9}")
    results: dict[str, dict[str, float]] = {}
    steps: list[tuple[str, str, Callable[[], list[float]]]] = [
        ("python_warm", "Python, warm pool", lambda: bench_warm(warm_runner, "python3", plan.warm)),
    ]
    if javascript:
        steps.append(
            (
                "javascript_warm",
                "JavaScript, warm pool",
                lambda: bench_warm(warm_runner, "javascript", plan.warm_js),
            )
        )
    steps.append(
        (
            "python_cold",
            "Python, cold (no pool)",
            lambda: bench_warm(cold_runner, "python3", plan.cold),
        )
    )
    if javascript:
        steps.append(
            (
                "javascript_cold",
                "JavaScript, cold (no pool)",
                lambda: bench_warm(cold_runner, "javascript", plan.cold),
            )
        )
    for key, label, step in steps:
        results[key] = _summary(step())
        _row(label, results[key])
    loop_samples, per_second = bench_loop(warm_runner, "python3", plan.back_to_back)
    results["python_back_to_back"] = _summary(loop_samples)
    _row("Python, back to back (pool of 2)", results["python_back_to_back"])
    print(f"back to back: {per_second:.1f} calls/s (one caller; the refill shares the CPU)")
    warm_runner.pool.close()
    cold_runner.pool.close()

    p50 = results["python_warm"]["p50"]
    figures.update(
        {
            "isolated": True,
            "trivial_call_ms_p50": p50,
            "trivial_call_ms_p99": results["python_warm"]["p99"],
            "js_call_ms_p50": results.get("javascript_warm", {}).get("p50"),
            "js_call_ms_p99": results.get("javascript_warm", {}).get("p99"),
            "cold_start_ms_p50": results["python_cold"]["p50"],
            "cold_start_js_ms_p50": results.get("javascript_cold", {}).get("p50"),
            "back_to_back_ms_p50": results["python_back_to_back"]["p50"],
            "back_to_back_calls_per_s": round(per_second, 1),
            "pool_size": warm_runner.limits.pool_size,
            "samples": {key: value for key, value in results.items()},
            "targets": TARGETS,
            "meets_targets": {"trivial_call_ms_p50": p50 < TARGETS["trivial_call_ms_p50_max"]},
            "seconds": round(time.perf_counter() - started_all, 1),
        }
    )
    print()
    verdict = "met" if figures["meets_targets"]["trivial_call_ms_p50"] else "NOT met"
    print(f"trivial call p50 {p50:.2f} ms (target < 50 ms: {verdict}); {figures['seconds']} s")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
