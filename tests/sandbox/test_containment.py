"""Hostile payloads: each one is refused or contained, and the sandbox serves the next call.

Real processes, real namespaces, no mocks; the limits are the small ones of conftest.py
(4 s wall, 2 s CPU, 128 MB, 4 MB files, 64 KiB output)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from apps.workflows.engine.errors import NodeError
from apps.workflows.sandbox import SandboxCodeRunner
from tests.sandbox.conftest import LIMITS, PROJECT, still_serving

MANAGE_PY = str(PROJECT / "manage.py")
SETTINGS_PY = str(PROJECT / "dify" / "settings.py")


def run(sandbox: SandboxCodeRunner, language: str, code: str, **inputs: Any) -> Any:
    try:
        return sandbox.run(language=language, code=code, inputs=inputs)
    finally:
        still_serving(sandbox)


def refused(sandbox: SandboxCodeRunner, language: str, code: str, **inputs: Any) -> str:
    with pytest.raises(NodeError) as caught:
        run(sandbox, language, code, **inputs)
    return str(caught.value)


@pytest.fixture
def listening_server() -> Iterator[int]:
    """A real TCP server on loopback, accepting: the sandbox must not reach it."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        assert not accepted, "the sandbox connected to the app's loopback server"


# -- network -------------------------------------------------------------------------------------


def test_python_cannot_reach_loopback_or_anything(
    sandbox: SandboxCodeRunner, listening_server: int
) -> None:
    code = (
        "import socket\n"
        "def main(port):\n"
        "    s = socket.create_connection(('127.0.0.1', port), timeout=2)\n"
        "    return {'connected': True}\n"
    )
    message = refused(sandbox, "python3", code, port=listening_server)
    assert "Network is unreachable" in message
    probe = (
        "import socket\n"
        "def main(port):\n"
        "    out = {}\n"
        "    for host in ['127.0.0.1', '10.0.0.1', '1.1.1.1', '::1']:\n"
        "        try:\n"
        "            socket.create_connection((host, port), timeout=2)\n"
        "            out[host] = 'connected'\n"
        "        except OSError as exc:\n"
        "            out[host] = str(exc)\n"
        "    try:\n"
        "        socket.getaddrinfo('example.com', 80)\n"
        "        out['dns'] = 'resolved'\n"
        "    except OSError as exc:\n"
        "        out['dns'] = str(exc)\n"
        "    return out\n"
    )
    out = run(sandbox, "python3", probe, port=listening_server)
    assert all(value != "connected" for value in out.values()), out
    assert "Network is unreachable" in out["127.0.0.1"]
    assert out["dns"] != "resolved"


def test_javascript_cannot_reach_the_network(
    sandbox: SandboxCodeRunner, listening_server: int
) -> None:
    net = (
        "const net = require('net');\n"
        "function main({port}) {\n"
        "  return new Promise((resolve, reject) => {\n"
        "    const s = net.connect(port, '127.0.0.1', () => resolve({connected: true}));\n"
        "    s.on('error', reject);\n"
        "  });\n"
        "}"
    )
    assert "ENETUNREACH" in refused(sandbox, "javascript", net, port=listening_server)
    http = (
        "const http = require('http');\n"
        "function main({port}) {\n"
        "  return new Promise((resolve, reject) => {\n"
        "    http.get(`http://127.0.0.1:${port}/`, () => resolve({connected: true}))\n"
        "      .on('error', reject);\n"
        "  });\n"
        "}"
    )
    assert "ENETUNREACH" in refused(sandbox, "javascript", http, port=listening_server)


# -- environment and files ---------------------------------------------------------------------


def test_no_app_environment_variables(
    sandbox: SandboxCodeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-7f3a9c-do-not-leak"
    monkeypatch.setenv("APP_SECRET_CANARY", canary)
    code = (
        "import os\n"
        "def main():\n"
        "    out = {'env': dict(os.environ)}\n"
        "    for path in ['/proc/self/environ', '/proc/1/environ', '/proc/self/cmdline']:\n"
        "        try:\n"
        "            out[path] = open(path, 'rb').read().decode('latin-1')\n"
        "        except OSError as exc:\n"
        "            out[path] = 'refused: ' + type(exc).__name__\n"
        "    return out\n"
    )
    out = run(sandbox, "python3", code)
    assert canary not in repr(out)
    assert set(out["env"]) <= {"PATH", "LANG", "HOME", "LC_CTYPE"}
    assert out["/proc/self/environ"].startswith("refused")
    js = "function main() { return {env: process.env} }"
    assert canary not in repr(run(sandbox, "javascript", js))


def test_no_project_files_secrets_or_other_processes(sandbox: SandboxCodeRunner) -> None:
    code = (
        "import os\n"
        "def main(paths):\n"
        "    out = {}\n"
        "    for path in paths:\n"
        "        try:\n"
        "            with open(path, 'rb') as f:\n"
        "                out[path] = 'READ ' + f.read(40).decode('latin-1')\n"
        "        except OSError as exc:\n"
        "            out[path] = 'refused: ' + type(exc).__name__\n"
        "    for path in [os.path.dirname(paths[0]), '/proc', '/root', '/home', '/etc']:\n"
        "        try:\n"
        "            out['ls ' + path] = sorted(os.listdir(path))\n"
        "        except OSError as exc:\n"
        "            out['ls ' + path] = 'refused: ' + type(exc).__name__\n"
        "    return out\n"
    )
    secret_paths = [
        MANAGE_PY,
        SETTINGS_PY,
        "/etc/shadow",
        f"/proc/{os.getpid()}/environ",
        "/proc/1/environ",
        "/root/.bash_history",
    ]
    out = run(sandbox, "python3", code, paths=secret_paths)
    for path in secret_paths:
        assert out[path].startswith("refused"), (path, out[path])
    assert out[f"ls {PROJECT}"] in ("refused: FileNotFoundError", [])
    assert out["ls /proc"] == "refused: FileNotFoundError"
    assert "shadow" not in out["ls /etc"]
    js = (
        "const fs = require('fs');\n"
        "function main({paths}) {\n"
        "  const out = {};\n"
        "  for (const p of paths) {\n"
        "    try { out[p] = 'READ ' + fs.readFileSync(p, 'utf8').slice(0, 40) }\n"
        "    catch (e) { out[p] = 'refused: ' + (e.code || e.message) }\n"
        "  }\n"
        "  return out;\n"
        "}"
    )
    js_out = run(sandbox, "javascript", js, paths=secret_paths)
    assert all(value.startswith("refused") for value in js_out.values()), js_out


# -- escapes ----------------------------------------------------------------------------------


def test_ctypes_and_subprocess_find_an_unprivileged_user(sandbox: SandboxCodeRunner) -> None:
    code = (
        "import ctypes, os, subprocess\n"
        "def main():\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    out = {'setuid0': libc.setuid(0), 'uid': os.getuid(), 'euid': os.geteuid()}\n"
        "    out['unshare_user'] = libc.unshare(0x10000000)\n"
        "    out['mount'] = libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n"
        "    out['chroot'] = libc.chroot(b'/tmp')\n"
        "    out['id'] = subprocess.run(['id'], capture_output=True, text=True).stdout\n"
        "    try:\n"
        "        os.setuid(0)\n"
        "        out['os.setuid'] = 'ok'\n"
        "    except OSError as exc:\n"
        "        out['os.setuid'] = str(exc)\n"
        "    return out\n"
    )
    out = run(sandbox, "python3", code)
    assert out["setuid0"] == -1 and out["os.setuid"] != "ok"
    assert out["uid"] != 0 and out["euid"] != 0
    assert out["unshare_user"] == out["mount"] == out["chroot"] == -1
    assert "uid=0" not in out["id"] and out["id"].startswith("uid=")
    js = "function main() { return require('child_process').execSync('id').toString() }"
    assert "Access to this API has been restricted" in refused(sandbox, "javascript", js)


def test_only_tmp_is_writable_and_nothing_runs_from_it(sandbox: SandboxCodeRunner) -> None:
    code = (
        "import os, shutil, subprocess\n"
        "def main():\n"
        "    out = {}\n"
        "    for path in ['/x', '/usr/x', '/etc/passwd', '/dev/x', '/sandbox/x']:\n"
        "        try:\n"
        "            open(path, 'w').write('x')\n"
        "            out[path] = 'written'\n"
        "        except OSError as exc:\n"
        "            out[path] = type(exc).__name__ + ': ' + exc.strerror\n"
        "    shutil.copy('/usr/bin/id', '/tmp/id')\n"
        "    os.chmod('/tmp/id', 0o755)\n"
        "    try:\n"
        "        subprocess.run(['/tmp/id'])\n"
        "        out['exec /tmp'] = 'ran'\n"
        "    except OSError as exc:\n"
        "        out['exec /tmp'] = exc.strerror\n"
        "    out['dev'] = sorted(os.listdir('/dev'))\n"
        "    return out\n"
    )
    out = run(sandbox, "python3", code)
    assert not [path for path, value in out.items() if value in ("written", "ran")], out
    assert out["/usr/x"].endswith("Read-only file system")
    assert out["dev"] == ["full", "null", "random", "urandom", "zero"]


def test_killing_the_parent_does_not_reach_the_app(sandbox: SandboxCodeRunner) -> None:
    code = (
        "import os, signal\n"
        "def main(app_pid):\n"
        "    out = {'ppid': os.getppid()}\n"
        "    for target in [os.getppid(), app_pid, -1]:\n"
        "        try:\n"
        "            os.kill(target, signal.SIGKILL)\n"
        "            out[str(target)] = 'sent'\n"
        "        except OSError as exc:\n"
        "            out[str(target)] = type(exc).__name__\n"
        "    return out\n"
    )
    out = run(sandbox, "python3", code, app_pid=os.getpid())
    assert out["ppid"] == 0  # the parent is outside the sandbox's PID namespace
    assert out[str(os.getpid())] == "ProcessLookupError"
    js = "function main() { process.kill(process.ppid, 'SIGKILL'); return {ppid: process.ppid} }"
    assert run(sandbox, "javascript", js) == {"ppid": 0}


# -- resource limits ----------------------------------------------------------------------------


def test_fork_bomb_is_contained(sandbox: SandboxCodeRunner) -> None:
    code = (
        "import os, time\n"
        "def main():\n"
        "    n = 0\n"
        "    while True:\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError as exc:\n"
        "            return {'forks': n, 'error': str(exc)}\n"
        "        if pid == 0:\n"
        "            while True:\n"
        "                try:\n"
        "                    os.fork()\n"
        "                except OSError:\n"
        "                    time.sleep(30)\n"
        "        n += 1\n"
    )
    out = run(sandbox, "python3", code)
    assert out["forks"] < LIMITS.max_processes
    assert "Resource temporarily unavailable" in out["error"]
    spawn = (
        "import subprocess\n"
        "def main():\n"
        "    procs = []\n"
        "    while True:\n"
        "        try:\n"
        "            procs.append(subprocess.Popen(['sleep', '30']))\n"
        "        except OSError as exc:\n"
        "            return {'spawned': len(procs), 'error': str(exc)}\n"
    )
    out = run(sandbox, "python3", spawn)
    assert out["spawned"] < LIMITS.max_processes


@pytest.mark.parametrize(
    "code",
    [
        "def main():\n    b = bytearray(4 * 1024 ** 3)\n    return {'n': len(b)}",
        "def main():\n    chunks = []\n    while True:\n        chunks.append(b'x' * 10 ** 6)",
        "import mmap\ndef main():\n    m = mmap.mmap(-1, 2 * 1024 ** 3)\n    return {}",
    ],
    ids=["bytearray-4GiB", "list-growth", "shared-mmap"],
)
def test_python_memory_bombs_hit_the_memory_limit(sandbox: SandboxCodeRunner, code: str) -> None:
    assert "memory limit exceeded" in refused(sandbox, "python3", code)


@pytest.mark.parametrize(
    "code",
    [
        "function main() { const a = []; for (;;) a.push(new Array(100000).fill(1.5)); }",
        "function main() { return {n: Buffer.alloc(2 ** 31).length} }",
    ],
    ids=["heap-growth", "buffer-2GiB"],
)
def test_javascript_memory_bombs_hit_the_memory_limit(
    sandbox: SandboxCodeRunner, code: str
) -> None:
    assert "memory limit exceeded" in refused(sandbox, "javascript", code)


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python3", "def main():\n    while True:\n        pass"),
        ("python3", "import time\ndef main():\n    time.sleep(60)\n    return {}"),
        ("javascript", "function main() { for (;;) {} }"),
        ("javascript", "function main() { return new Promise(() => setInterval(() => {}, 50)) }"),
    ],
    ids=["python-busy", "python-sleep", "js-busy", "js-waits-forever"],
)
def test_endless_code_is_stopped(sandbox: SandboxCodeRunner, language: str, code: str) -> None:
    message = refused(sandbox, language, code)
    assert "timed out after 4 s" in message or "CPU time limit exceeded (2 s)" in message


@pytest.mark.parametrize(
    ("language", "code"),
    [
        (
            "python3",
            "def main():\n    with open('/tmp/big', 'wb') as f:\n"
            "        while True:\n            f.write(b'x' * 1000000)",
        ),
        (
            "javascript",
            "function main() {\n  const chunk = 'x'.repeat(1 << 20);\n"
            "  for (;;) require('fs').appendFileSync('/tmp/big', chunk);\n}",
        ),
    ],
    ids=["python", "javascript"],
)
def test_huge_files_are_refused(sandbox: SandboxCodeRunner, language: str, code: str) -> None:
    message = refused(sandbox, language, code)
    assert "File too large" in message or "EFBIG" in message


def test_output_is_capped(sandbox: SandboxCodeRunner) -> None:
    printer = "def main():\n    print('x' * 200000)\n    return {}"
    assert "output too large" in refused(sandbox, "python3", printer)
    big = "def main():\n    return {'s': 'x' * 200000}"
    assert "output too large" in refused(sandbox, "python3", big)
    js_big = "function main() { return {s: 'x'.repeat(200000)} }"
    assert "output too large" in refused(sandbox, "javascript", js_big)
    js_print = (
        "function main() { for (let i = 0; i < 5000; i++) console.log('x'.repeat(100)); return {} }"
    )
    assert "output too large" in refused(sandbox, "javascript", js_print)
