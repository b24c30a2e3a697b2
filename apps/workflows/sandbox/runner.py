"""``SandboxCodeRunner``: the code node's local runner (the CodeRunner port), isolated.

Each call takes a pre-warmed one-shot worker from a shared ``WorkerPool`` (see ``pool.py``
for the pool, ``launcher.py`` / ``isolation.py`` for what a worker is) and turns what came
back into the dict of ``main`` or a ``NodeError`` whose message says what happened: the
code's own exception (with its line), "timed out after N s", "memory limit exceeded",
"output too large", ...

Where the host cannot isolate code (no user namespaces: a locked-down container, a kernel
without them, not Linux) the runner refuses with a clear error, unless the operator allowed
the old plain subprocess (``allow_unisolated``), which then runs with a logged warning.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apps.workflows.engine.errors import NodeError

from .pool import LaunchSpec, Outcome, SandboxStartError, WorkerGone, WorkerPool
from .subprocess_runner import SubprocessCodeRunner, _json_type, _language

logger = logging.getLogger(__name__)
CPU_EXIT = 152  # launcher.CPU_EXIT (the launcher runs as a script: not imported here)
_OUT_OF_MEMORY = (b"heap out of memory", b"Reached heap limit", b"Fatal process out of memory")
_HOST_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits and how workers are started (see the settings' code-execution block)."""

    timeout: float = 15.0  # wall-clock seconds for one call
    cpu_seconds: int = 15  # CPU seconds per process (RLIMIT_CPU)
    memory_mb: int = 256  # Python: address space; JavaScript: V8 heap (+ RLIMIT_DATA/AS)
    max_output_bytes: int = 1024 * 1024  # the result's JSON, and what the code prints
    max_file_mb: int = 16  # largest file (RLIMIT_FSIZE) and the size of the sandbox's /tmp
    max_processes: int = 16  # processes + threads of the sandbox user (RLIMIT_NPROC)
    uid: int = 65534  # the unprivileged user code runs as (when the app runs as root)
    gid: int = 65534
    pool_size: int = 2  # ready workers kept per language in use
    node: str = "node"  # the Node.js binary (name on PATH or a path)
    hidden_dirs: tuple[str, ...] = ()  # app directories hidden if under a mounted one


class SandboxCodeRunner:
    """Runs the code node's Python 3 / JavaScript in the isolated sandbox."""

    def __init__(self, limits: SandboxLimits | None = None, *, allow_unisolated: bool = False):
        self.limits = limits or SandboxLimits()
        self.allow_unisolated = allow_unisolated
        self.spec = launch_spec(self.limits)

    @property
    def pool(self) -> WorkerPool:
        return shared_pool(self.spec, self.limits.pool_size)

    def warm(self, language: str, timeout: float = 30.0) -> bool:
        """Fill the pool for ``language`` now and wait for it (app start-up, benchmarks)."""
        return self.pool.warm(_language(language), timeout=timeout)

    def run(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        kind = _language(language)
        if self.limits.uid == 0 or self.limits.gid == 0:
            raise NodeError("CODE_SANDBOX_UID / CODE_SANDBOX_GID must not be 0 (root)")
        if _UNISOLATED.reason is not None:
            return self._unisolated(kind, code, inputs, _UNISOLATED.reason)
        if kind == "nodejs" and self.spec.node is None:
            raise NodeError(f"JavaScript is not available: {self.limits.node!r} was not found")
        try:
            job = json.dumps({"code": code, "inputs": dict(inputs)}, ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise NodeError(f"the inputs cannot be passed to the code: {exc}") from exc
        for attempt in range(3):
            try:
                worker = self.pool.take(kind)
            except SandboxStartError as exc:
                if exc.kind == "isolation":
                    _UNISOLATED.reason = str(exc)
                    return self._unisolated(kind, code, inputs, str(exc))
                raise NodeError(f"the code sandbox could not start: {exc}") from exc
            try:
                outcome = worker.run(job, self.limits.timeout, self.limits.max_output_bytes)
            except WorkerGone:
                if attempt == 2:
                    raise NodeError("the code sandbox worker exited before the job") from None
                continue
            return self._interpret(outcome)
        raise AssertionError("unreachable")

    # -- answers -------------------------------------------------------------------------------
    def _interpret(self, outcome: Outcome) -> dict[str, Any]:
        limits = self.limits
        if outcome.timed_out:
            raise NodeError(f"code execution timed out after {limits.timeout:g} s")
        if outcome.output_overflow:
            raise NodeError(
                f"output too large: the code printed more than {limits.max_output_bytes} bytes"
            )
        if outcome.reply_overflow:
            raise NodeError(
                f"output too large: the result is larger than {limits.max_output_bytes} bytes"
            )
        head, _, body = outcome.reply.partition(b" ")
        if head == b"result":
            try:
                result = json.loads(body)
            except ValueError as exc:
                raise NodeError(f"the code's result is not valid JSON: {exc}") from exc
            if not isinstance(result, dict):
                raise NodeError(f"main() must return a dict (object), got {_json_type(result)}")
            return result
        if head == b"error":
            raise NodeError(self._error_message(body))
        raise NodeError(self._death_message(outcome))

    def _error_message(self, body: bytes) -> str:
        try:
            report = json.loads(body)
            kind, message, line = report["kind"], str(report["message"]), report.get("line")
        except (ValueError, KeyError, TypeError):
            return "the code sandbox sent an unreadable answer"
        if kind == "memory":
            return f"memory limit exceeded ({self.limits.memory_mb} MB)"
        if kind == "output":
            limit = self.limits.max_output_bytes
            return f"output too large: the result is larger than {limit} bytes"
        if isinstance(line, int):
            return f"{message} (line {line})"
        return message

    def _death_message(self, outcome: Outcome) -> str:
        code = outcome.returncode
        if any(marker in outcome.output for marker in _OUT_OF_MEMORY):
            return f"memory limit exceeded ({self.limits.memory_mb} MB)"
        if code == CPU_EXIT:
            return f"CPU time limit exceeded ({self.limits.cpu_seconds} s)"
        if code is not None and code > 128:
            try:
                name = signal.Signals(code - 128).name
            except ValueError:
                name = f"signal {code - 128}"
            if code - 128 == signal.SIGKILL:
                return f"the code was killed ({name}): memory limit exceeded?"
            return f"the code crashed ({name})"
        if code:
            return f"the code exited with status {code} before returning a result"
        return "the code exited before returning a result"

    # -- hosts that cannot isolate -----------------------------------------------------------
    def _unisolated(self, kind: str, code: str, inputs: Mapping[str, Any], reason: str) -> Any:
        if not self.allow_unisolated:
            raise NodeError(
                "code execution is disabled: this host cannot isolate the code sandbox "
                f"({reason}). Run the app where user namespaces are allowed, set "
                "CODE_EXECUTION_ENDPOINT to a dify-sandbox service, or set "
                "CODE_SANDBOX_ALLOW_UNISOLATED=true to run code WITHOUT isolation (unsafe)."
            )
        if not _UNISOLATED.warned:
            _UNISOLATED.warned = True
            logger.warning(
                "code sandbox: isolation unavailable (%s); CODE_SANDBOX_ALLOW_UNISOLATED is "
                "set, so code nodes run in a plain subprocess with the app's user, network "
                "and files",
                reason,
            )
        plain = SubprocessCodeRunner(
            timeout=self.limits.timeout,
            node=self.spec.node or self.limits.node,
            max_output=self.limits.max_output_bytes,
        )
        return plain.run(language=kind, code=code, inputs=inputs)


class _Unisolated:
    reason: str | None = None  # why this host cannot isolate (set once, per process)
    warned = False


_UNISOLATED = _Unisolated()
_POOLS: dict[tuple[LaunchSpec, int], WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    global _POOLS_LOCK
    _POOLS_LOCK = threading.Lock()  # the pools themselves reset on their own (pool.py)


os.register_at_fork(after_in_child=_after_fork_in_child)


def shared_pool(spec: LaunchSpec, size: int) -> WorkerPool:
    """One pool per process and configuration, shared by every runner (the adapter makes a
    runner per workflow run)."""
    with _POOLS_LOCK:
        pool = _POOLS.get((spec, size))
        if pool is None:
            pool = _POOLS[(spec, size)] = WorkerPool(spec, size)
        return pool


@functools.lru_cache(maxsize=32)
def launch_spec(limits: SandboxLimits) -> LaunchSpec:
    """Resolve the interpreters and the directories the sandbox needs, read-only."""
    python = os.path.realpath(sys.executable)
    found = shutil.which(limits.node) if limits.node else None
    node = os.path.realpath(found) if found else None
    needed = [os.path.realpath(sys.base_prefix)]
    if node is not None:
        prefix = os.path.dirname(os.path.dirname(node))
        needed.append(prefix if prefix != "/" else os.path.dirname(node))
    dirs = [d for d in _HOST_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    for path in needed:
        if not _under(path, dirs):
            dirs.append(path)
    hidden = [os.path.realpath(d) for d in limits.hidden_dirs if d]
    mask = tuple(d for d in hidden if _under(d, dirs) and not any(_under(n, [d]) for n in needed))
    return LaunchSpec(
        python=python,
        node=node,
        readonly_dirs=tuple(dirs),
        mask_dirs=mask,
        uid=limits.uid,
        gid=limits.gid,
        cpu_seconds=max(1, math.ceil(limits.cpu_seconds)),
        memory_mb=limits.memory_mb,
        max_file_bytes=limits.max_file_mb * 1024 * 1024,
        max_processes=limits.max_processes,
        max_output=limits.max_output_bytes,
    )


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)
