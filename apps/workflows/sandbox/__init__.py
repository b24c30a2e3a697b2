"""Runs the code node's Python / JavaScript outside the app process (the CodeRunner port).

``SubprocessCodeRunner`` is a plain child process, NOT a hardened sandbox yet (see
``subprocess_runner``); ``RemoteSandboxRunner`` talks to a dify-sandbox service.
"""

from .subprocess_runner import RemoteSandboxRunner, SubprocessCodeRunner, parse_result, wrap_code

__all__ = ["RemoteSandboxRunner", "SubprocessCodeRunner", "parse_result", "wrap_code"]
