"""CodeRunner implementations for the code node: a plain local subprocess and dify-sandbox.

Both wrap the user's code the way Dify's sandbox expects: the code defines ``main``, the
wrapper decodes the inputs (JSON, base64), calls ``main(**inputs)`` (Python) or
``main(inputs)`` (JavaScript, which may return a promise) and prints the JSON result between
two ``<<RESULT>>`` tags.

NOT A SANDBOX. ``SubprocessCodeRunner`` runs the code in a separate ``python3 -I`` /
``node`` process with a fresh temporary working directory, an empty environment, a
wall-clock timeout and a cap on its output, but with the same user, network and file-system
access as the app. The app uses it only where the host cannot isolate and the operator set
CODE_SANDBOX_ALLOW_UNISOLATED; the default local runner is the isolated
``runner.SandboxCodeRunner``. ``RemoteSandboxRunner`` hands the code to a separate
dify-sandbox service.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO, Any

from apps.workflows.engine.errors import NodeError

RESULT_TAG = "<<RESULT>>"
MAX_OUTPUT = 1024 * 1024  # bytes of stdout (and of kept stderr)
LANGUAGES = {"python3": "python3", "javascript": "nodejs", "nodejs": "nodejs"}

_PYTHON_WRAPPER = """{code}


def __dify_sandbox_run():
    import base64 as _base64
    import json as _json

    _inputs = _json.loads(_base64.b64decode("{inputs}").decode("utf-8"))
    _output = main(**_inputs)
    print("{tag}" + _json.dumps(_output, ensure_ascii=False) + "{tag}")


__dify_sandbox_run()
"""

_JAVASCRIPT_WRAPPER = """{code}

;(async () => {{
  const __inputs = JSON.parse(Buffer.from("{inputs}", "base64").toString("utf-8"));
  let __output = main(__inputs);
  if (__output && typeof __output.then === "function") __output = await __output;
  console.log("{tag}" + JSON.stringify(__output === undefined ? null : __output) + "{tag}");
}})().catch((error) => {{
  process.stderr.write(String((error && error.stack) || error) + "\\n");
  process.exit(1);
}});
"""

_ERROR_LINE = re.compile(r"^\s*(?:Uncaught\s+)?[A-Za-z_.$]*(?:Error|Exception)\b.*$")


def wrap_code(language: str, code: str, inputs: Mapping[str, Any]) -> str:
    """The program to run: the user's code followed by the call that prints the result."""
    encoded = base64.b64encode(json.dumps(dict(inputs), ensure_ascii=False).encode()).decode()
    kind = _language(language)
    template = _PYTHON_WRAPPER if kind == "python3" else _JAVASCRIPT_WRAPPER
    head, tail = template.split("{code}", 1)  # the code itself may contain braces
    return head + code + tail.format(inputs=encoded, tag=RESULT_TAG)


def parse_result(stdout: str) -> dict[str, Any]:
    """The dict printed between the last pair of result tags."""
    end = stdout.rfind(RESULT_TAG)
    start = stdout.rfind(RESULT_TAG, 0, end) if end > 0 else -1
    if start < 0:
        raise NodeError("the code printed no result (did main() run?)")
    try:
        result = json.loads(stdout[start + len(RESULT_TAG) : end])
    except ValueError as exc:
        raise NodeError(f"the code's result is not valid JSON: {exc}") from exc
    if not isinstance(result, dict):
        raise NodeError(f"main() must return a dict (object), got {_json_type(result)}")
    return result


def error_line(language: str, stderr: str) -> str:
    """The line of an error report that says what went wrong."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    matches = [line.strip() for line in lines if _ERROR_LINE.match(line)]
    if _language(language) == "python3":
        return lines[-1].strip()
    if matches:
        return matches[0]
    meaningful = [line for line in lines if not line.startswith("Node.js v")]
    return (meaningful or lines)[-1].strip()


class SubprocessCodeRunner:
    """Runs code in a plain child process. Not isolated: see the module docstring."""

    def __init__(
        self,
        timeout: float = 10.0,
        python: str = sys.executable,
        node: str = "node",
        max_output: int = MAX_OUTPUT,
    ):
        self.timeout = timeout
        self.python = python
        self.node = node
        self.max_output = max_output

    def run(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        kind = _language(language)
        program = wrap_code(kind, code, inputs)
        with tempfile.TemporaryDirectory(prefix="wf-code-") as workdir:
            name = "main.py" if kind == "python3" else "main.js"
            path = os.path.join(workdir, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(program)
            argv = [self.python, "-I", path] if kind == "python3" else [self.node, path]
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir}
            stdout, stderr, returncode = self._execute(argv, workdir, env)
        if returncode != 0:
            message = error_line(kind, stderr) or f"the code exited with status {returncode}"
            raise NodeError(message)
        return parse_result(stdout)

    def _execute(self, argv: list[str], cwd: str, env: dict[str, str]) -> tuple[str, str, int]:
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise NodeError(f"cannot start {argv[0]}: {exc}") from exc
        assert process.stdout is not None and process.stderr is not None
        out = _Drain(process.stdout, self.max_output, on_overflow=lambda: _kill(process))
        err = _Drain(process.stderr, self.max_output)
        try:
            process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.wait()
            raise NodeError(f"code execution timed out after {self.timeout:g} seconds") from None
        finally:
            out.join()
            err.join()
        if out.overflow:
            raise NodeError(f"the code's output is larger than {self.max_output} bytes")
        return out.text(), err.text(), process.returncode


class RemoteSandboxRunner:
    """Speaks dify-sandbox's protocol: ``POST {endpoint}/v1/sandbox/run``."""

    def __init__(self, endpoint: str, api_key: str, timeout: float = 30.0):
        self.url = endpoint.rstrip("/") + "/v1/sandbox/run"
        self.api_key = api_key
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def run(self, *, language: str, code: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        kind = _language(language)
        body = {
            "language": kind,
            "code": wrap_code(kind, code, inputs),
            "preload": "",
            "enable_network": False,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"X-Api-Key": self.api_key, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_OUTPUT + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 503:
                raise NodeError("Code execution service is unavailable") from exc
            raise NodeError(
                f"Failed to execute code, got status code {exc.code}, please check if the "
                "sandbox service is running"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise NodeError(
                f"Failed to execute code, which is likely a network issue, please check if "
                f"the sandbox service is running. ( Error: {exc} )"
            ) from exc
        if len(raw) > MAX_OUTPUT:
            raise NodeError(f"the sandbox's answer is larger than {MAX_OUTPUT} bytes")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise NodeError("the sandbox returned an answer that is not JSON") from exc
        if not isinstance(payload, dict):
            raise NodeError("the sandbox returned an unexpected answer")
        if payload.get("code") != 0:
            raise NodeError(
                f"Got error code: {payload.get('code')}. Got error msg: {payload.get('message')}"
            )
        data = payload.get("data") or {}
        if data.get("error"):
            raise NodeError(error_line(kind, str(data["error"])) or str(data["error"]))
        return parse_result(str(data.get("stdout") or ""))


class _Drain:
    """Reads a pipe on a thread, keeping at most ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int, on_overflow: Any = None):
        self.stream, self.limit, self.on_overflow = stream, limit, on_overflow
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self.stream:
            while chunk := self.stream.read1(65536):  # type: ignore[attr-defined]
                if self.size + len(chunk) > self.limit:
                    if not self.overflow:
                        self.overflow = True
                        if self.on_overflow is not None:
                            self.on_overflow()
                    continue  # keep draining so the child never blocks on a full pipe
                self.chunks.append(chunk)
                self.size += len(chunk)

    def join(self) -> None:
        self.thread.join(timeout=5)

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _language(language: str) -> str:
    kind = LANGUAGES.get(language)
    if kind is None:
        raise NodeError(f"unsupported code language {language!r} (python3 or javascript)")
    return kind


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return type(value).__name__
