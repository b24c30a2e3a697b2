"""The code node's runner comes from the settings' code-execution block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from apps.workflows.adapters.code import code_runner
from apps.workflows.sandbox import RemoteSandboxRunner, SandboxCodeRunner


def test_default_runner_is_the_sandbox_configured_from_settings(settings: Any) -> None:
    overrides = {
        "CODE_EXECUTION_ENDPOINT": "",
        "CODE_EXECUTION_TIMEOUT": 7.5,
        "CODE_SANDBOX_MEMORY_MB": 200,
        "CODE_SANDBOX_CPU_SECONDS": 3,
        "CODE_SANDBOX_MAX_OUTPUT_BYTES": 4096,
        "CODE_SANDBOX_POOL_SIZE": 1,
        "CODE_SANDBOX_ALLOW_UNISOLATED": True,
    }
    for name, value in overrides.items():
        setattr(settings, name, value)  # pytest-django restores them afterwards
    runner = code_runner()
    assert isinstance(runner, SandboxCodeRunner)
    limits = runner.limits
    assert (limits.timeout, limits.memory_mb, limits.cpu_seconds) == (7.5, 200, 3)
    assert (limits.max_output_bytes, limits.pool_size) == (4096, 1)
    assert runner.allow_unisolated
    assert str(Path(django_settings.BASE_DIR)) in limits.hidden_dirs
    assert runner.spec.memory_mb == 200 and runner.spec.max_output == 4096


def test_an_endpoint_selects_the_remote_dify_sandbox(settings: Any) -> None:
    settings.CODE_EXECUTION_ENDPOINT = "http://sandbox:8194"
    settings.CODE_EXECUTION_API_KEY = "k"
    runner = code_runner()
    assert isinstance(runner, RemoteSandboxRunner)
    assert runner.url == "http://sandbox:8194/v1/sandbox/run"
