"""The pool across fork(), and the two other kinds of host: not root (an unprivileged user
namespace) and no user namespaces at all (refuse, unless unisolated runs are allowed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from apps.workflows.sandbox import SandboxCodeRunner
from tests.sandbox.conftest import LIMITS, PROJECT, TRIVIAL, still_serving

CHILD = textwrap.dedent(
    """
    import json, logging, sys
    sys.path.insert(0, {project!r})
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from apps.workflows.engine.errors import NodeError
    from apps.workflows.sandbox import SandboxCodeRunner, SandboxLimits

    out = {{}}
    code = "import os\\ndef main():\\n    return {{'uid': os.getuid(), 'pid': os.getpid()}}"
    for allow in (False, True):
        runner = SandboxCodeRunner(SandboxLimits(timeout=10, pool_size=0), allow_unisolated=allow)
        try:
            out[str(allow)] = runner.run(language="python3", code=code, inputs={{}})
        except NodeError as exc:
            out[str(allow)] = "NodeError: " + str(exc)
    print(json.dumps(out))
    """
).format(project=str(PROJECT))


def test_a_forked_child_gets_its_own_pool(sandbox: SandboxCodeRunner) -> None:
    sandbox.warm("python3", timeout=20)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            result = sandbox.run(language="python3", code=TRIVIAL, inputs={})
            os.write(write_end, json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert json.loads(answer) == {"a": 1}
    still_serving(sandbox)  # the parent's workers were not touched by the child


def _system_python() -> str | None:
    """A Python >= 3.10 that an unprivileged user can run, to start the app as non-root."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            version = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info >= (3, 10))"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if version == "True":
                return candidate
    return None


def _world_traversable(path: Path) -> bool:
    return all(os.stat(part).st_mode & 0o005 == 0o005 for part in [path, *path.parents])


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_not_root_uses_an_unprivileged_user_namespace() -> None:
    python = _system_python()
    if python is None or not _world_traversable(PROJECT):
        pytest.skip("no system Python / the checkout is not readable by other users")
    done = subprocess.run(
        ["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups", python, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    if "cannot isolate" in done.stdout and "user namespace" in done.stdout:
        pytest.skip("unprivileged user namespaces are disabled on this host")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["False"] == {"uid": 65534, "pid": 1}, out


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs util-linux unshare")
def test_without_user_namespaces_code_is_refused_unless_allowed() -> None:
    """A user namespace whose max_user_namespaces is 0 stands for a host without them."""
    shell = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -c "$1"'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", shell, sys.executable, CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip("this host cannot create the user namespace the test needs")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    refused = out["False"]
    assert refused.startswith("NodeError: code execution is disabled: this host cannot isolate")
    assert "CODE_SANDBOX_ALLOW_UNISOLATED=true" in refused
    assert out["True"]["pid"] != 1  # ran, but as a plain subprocess
    assert "CODE_SANDBOX_ALLOW_UNISOLATED is set" in done.stderr  # the logged warning


def test_pool_keeps_warm_workers_and_refills(sandbox: SandboxCodeRunner) -> None:
    pool = sandbox.pool
    assert sandbox.warm("python3", timeout=20)
    assert pool.ready_count("python3") == LIMITS.pool_size
    sandbox.run(language="python3", code=TRIVIAL, inputs={})
    assert sandbox.warm("python3", timeout=20)  # refilled in the background
    assert sandbox.warm("javascript", timeout=20)
    assert pool.ready_count("nodejs") == LIMITS.pool_size
