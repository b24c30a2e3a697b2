"""The code node's runner: a remote dify-sandbox when configured, else a local subprocess."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def code_runner() -> Any:
    from apps.workflows.sandbox.subprocess_runner import (
        RemoteSandboxRunner,
        SubprocessCodeRunner,
    )

    if settings.CODE_EXECUTION_ENDPOINT:
        return RemoteSandboxRunner(
            settings.CODE_EXECUTION_ENDPOINT, settings.CODE_EXECUTION_API_KEY
        )
    return SubprocessCodeRunner(timeout=settings.CODE_EXECUTION_TIMEOUT)
