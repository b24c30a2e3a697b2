"""The code node's runner: a remote dify-sandbox when configured, else the local isolated
sandbox (``apps.workflows.sandbox``), configured from the settings' code-execution block."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def code_runner() -> Any:
    from apps.workflows.sandbox import RemoteSandboxRunner, SandboxCodeRunner, SandboxLimits

    if settings.CODE_EXECUTION_ENDPOINT:
        return RemoteSandboxRunner(
            settings.CODE_EXECUTION_ENDPOINT, settings.CODE_EXECUTION_API_KEY
        )
    limits = SandboxLimits(
        timeout=settings.CODE_EXECUTION_TIMEOUT,
        cpu_seconds=settings.CODE_SANDBOX_CPU_SECONDS,
        memory_mb=settings.CODE_SANDBOX_MEMORY_MB,
        max_output_bytes=settings.CODE_SANDBOX_MAX_OUTPUT_BYTES,
        max_file_mb=settings.CODE_SANDBOX_MAX_FILE_MB,
        max_processes=settings.CODE_SANDBOX_MAX_PROCESSES,
        uid=settings.CODE_SANDBOX_UID,
        gid=settings.CODE_SANDBOX_GID,
        pool_size=settings.CODE_SANDBOX_POOL_SIZE,
        node=settings.CODE_SANDBOX_NODE,
        hidden_dirs=(str(settings.BASE_DIR), str(settings.DATA_DIR), str(settings.MEDIA_ROOT)),
    )
    return SandboxCodeRunner(limits, allow_unisolated=settings.CODE_SANDBOX_ALLOW_UNISOLATED)
