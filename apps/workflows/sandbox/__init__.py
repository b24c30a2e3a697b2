"""Runs the code node's Python / JavaScript outside the app process (the CodeRunner port).

``SandboxCodeRunner`` (``runner.py``) is the default: pre-warmed one-shot workers
(``pool.py``), each isolated by ``launcher.py`` / ``isolation.py`` (namespaces, a minimal
read-only root, an unprivileged user, resource limits, no capabilities, seccomp).
``RemoteSandboxRunner`` talks to a dify-sandbox service; ``SubprocessCodeRunner`` is the
old plain child process, used only where the operator allows unisolated execution.
"""

from .pool import WorkerPool
from .runner import SandboxCodeRunner, SandboxLimits
from .subprocess_runner import RemoteSandboxRunner, SubprocessCodeRunner, parse_result, wrap_code

__all__ = [
    "RemoteSandboxRunner",
    "SandboxCodeRunner",
    "SandboxLimits",
    "SubprocessCodeRunner",
    "WorkerPool",
    "parse_result",
    "wrap_code",
]
