"""bench/ingest.py and bench/retrieval.py run and end with their JSON figures (hidden --smoke
flag: tiny sizes, a few seconds each; no timing assertions, the targets are the scripts'
own figures)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str) -> tuple[list[str], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    return lines, json.loads(lines[-1])


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_ingest_bench_prints_a_table_then_its_figures_as_json() -> None:
    lines, figures = _run("ingest.py")
    assert len(lines) > 10  # the human-readable table comes first
    assert any("raw MiniLM encode" in line for line in lines)
    assert figures["mode"] == "smoke"
    for key in ("chunks_per_s", "raw_embedder_chunks_per_s", "ratio_to_raw_embedder"):
        assert _positive(figures[key]), key
    assert set(figures["variants"]) == {"short", "long", "short_indexed"}
    assert figures["variants"]["short_indexed"]["hnsw_index_during_ingest"] is True
    for variant in figures["variants"].values():
        assert variant["chunks"] > 0
        for key in ("chunks_per_s", "raw_embedder_chunks_per_s", "ratio_to_raw_embedder"):
            assert _positive(variant[key]), key
        assert "embed: model.encode" in variant["breakdown_seconds"]
    assert figures["targets"] == {"ratio_to_raw_embedder_min": 0.9}
    assert isinstance(figures["meets_targets"]["ratio_to_raw_embedder"], bool)


def test_retrieval_bench_prints_a_table_then_its_figures_as_json() -> None:
    lines, figures = _run("retrieval.py")
    assert len(lines) > 10
    assert figures["mode"] == "smoke"
    assert figures["n"] == figures["synthetic"]["n"] > 0
    for key in ("p50_ms", "p99_ms", "build_seconds"):
        assert _positive(figures[key]), key
    assert 0 <= figures["recall_at_10"] <= 1
    assert set(figures["modes"]) == {"semantic", "full_text", "hybrid"}
    for row in figures["modes"].values():
        assert row["n"] > 0
        assert _positive(row["p50_ms"]) and _positive(row["p99_ms"])
        assert 0 <= row["recall_at_10"] <= 1
    assert 0 <= figures["synthetic"]["recall_at_10"] <= 1
    assert not math.isnan(figures["synthetic"]["p99_ms"])
    settings = figures["settings"]
    assert {"build_session", "query_ef_search", "hnsw_m", "hnsw_ef_construction"} <= set(settings)
    assert set(figures["meets_targets"]) == {"p99_ms", "recall_at_10", "at_target_n"}
