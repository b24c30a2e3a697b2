"""Fixtures for the code sandbox tests: a runner with small limits (so the payloads that hit
a limit end quickly) and the check that the sandbox still serves after each payload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.workflows.engine.errors import NodeError
from apps.workflows.sandbox import SandboxCodeRunner, SandboxLimits

PROJECT = Path(__file__).resolve().parents[2]
LIMITS = SandboxLimits(
    timeout=4.0,
    cpu_seconds=2,
    memory_mb=128,
    max_output_bytes=64 * 1024,
    max_file_mb=4,
    max_processes=16,
    pool_size=2,
    hidden_dirs=(str(PROJECT),),
)
TRIVIAL = "def main():\n    return {'a': 1}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxCodeRunner]:
    runner = SandboxCodeRunner(LIMITS)
    try:
        runner.run(language="python3", code=TRIVIAL, inputs={})
    except NodeError as exc:
        if "cannot isolate" in str(exc) and not os.environ.get("CI"):
            pytest.skip(f"this host cannot isolate code: {exc}")
        raise
    yield runner
    runner.pool.close()


def still_serving(runner: SandboxCodeRunner) -> None:
    """After a payload, a trivial call in each language still works."""
    assert runner.run(language="python3", code=TRIVIAL, inputs={}) == {"a": 1}
    js = "function main() { return {a: 1} }"
    assert runner.run(language="javascript", code=js, inputs={}) == {"a": 1}
