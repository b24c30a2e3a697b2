"""One sandbox worker: ``python -I -S launcher.py '<json config>'`` (started by ``pool.py``).

Runs in its own interpreter (standard library + ``isolation.py`` only, no app code), with an
empty environment. Two processes:

* the **supervisor** (this process, outside the sandbox) creates a PID namespace, forks the
  worker, writes its user-namespace id maps when running as root, then only waits for it
  and exits with its status (152 when the kernel killed it for CPU time);
* the **worker** becomes PID 1 of that namespace, enters new user, mount, network, IPC, UTS
  and cgroup namespaces, pivots into a minimal read-only root (``isolation.build_root``),
  becomes the unprivileged user, sets the resource limits, drops every capability, installs
  the seccomp filter, says ``ready`` on fd 3 and waits on fd 0 for exactly one job (Python:
  run here; JavaScript: ``exec node worker.js``, which speaks the same protocol). When it
  exits the kernel kills whatever it started (the namespace's init is gone).

fd 0: the job (15-digit length, ``\\n``, JSON ``{"code", "inputs"}``); fd 1 and 2: the
code's output; fd 3: ``ready``, then one ``result <json>`` or ``error <json>`` line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import isolation  # a sibling module: this file runs as a script, not as a package

del sys.path[0]

RESULT_FD = 3
CPU_EXIT = 152  # the supervisor's status when the worker was killed for CPU time
SETUP_EXIT = 201
# ENOSPC: user.max_user_namespaces is 0, the usual way hosts turn user namespaces off.
PERMANENT = {errno.EPERM, errno.EACCES, errno.EINVAL, errno.ENOSYS, errno.ENOENT, errno.ENOSPC}
SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
INNER_ID = 65534  # the id the code runs as inside the namespaces when not started as root
NAMESPACES = (
    isolation.CLONE_NEWNS | isolation.CLONE_NEWNET | isolation.CLONE_NEWIPC
    | isolation.CLONE_NEWUTS | isolation.CLONE_NEWCGROUP
)  # fmt: skip
ETC_FILES = {
    "/etc/hosts": b"127.0.0.1 localhost\n::1 localhost\n",
    "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files\n",
}


def main() -> None:
    config = json.loads(sys.argv[1])
    if config["language"] not in ("python3", "nodejs"):
        raise SystemExit(f"unknown language {config['language']!r}")
    if config["result_fd"] != RESULT_FD:
        os.dup2(config["result_fd"], RESULT_FD)
        os.close(config["result_fd"])
    if not isolation.AVAILABLE:
        _report("isolation", f"Linux namespaces are not available on {sys.platform}")
        os._exit(SETUP_EXIT)
    try:
        if os.geteuid() == 0:
            _supervise_as_root(config)
        else:
            _supervise_unprivileged(config)
    except isolation.IsolationError as exc:
        _report(_kind(exc), str(exc))
        os._exit(SETUP_EXIT)
    except Exception as exc:  # noqa: BLE001  (report anything, then give up)
        _report("setup", f"sandbox set-up: {type(exc).__name__}: {exc}")
        os._exit(SETUP_EXIT)


def _kind(exc: OSError) -> str:
    """The report's kind: "isolation" when this host does not allow it at all (the app
    then stops trying), "setup" for what may pass (out of memory, a full process table)."""
    return "isolation" if exc.errno in PERMANENT else "setup"


def _report(kind: str, message: str) -> None:
    line = "error " + json.dumps({"kind": kind, "message": message, "line": None}) + "\n"
    with contextlib.suppress(OSError):
        os.write(RESULT_FD, line.encode())


def _supervise_as_root(config: dict[str, Any]) -> None:
    """Root: the worker's user namespace maps only the sandbox uid/gid (root stays unmapped),
    so the maps are written from here, outside it."""
    isolation.unshare(isolation.CLONE_NEWPID)
    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()
    alive_read, alive_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_write)
        os.close(ready_read)
        os.close(alive_write)
        try:
            isolation.unshare(isolation.CLONE_NEWUSER)
            os.write(ready_write, b"u")
            answer = os.read(go_read, 4096)
            if answer != b"ok":
                raise isolation.IsolationError(1, answer.decode(errors="replace") or "no maps")
        except isolation.IsolationError as exc:
            _report(_kind(exc), str(exc))
            os._exit(SETUP_EXIT)
        _worker(config, alive_read, become=(config["uid"], config["gid"]))
    os.close(go_read)
    os.close(ready_write)
    os.close(alive_read)
    if os.read(ready_read, 1) == b"u":
        uid, gid = config["uid"], config["gid"]
        try:
            isolation.write_id_maps(pid, f"{uid} {uid} 1", f"{gid} {gid} 1", False)
            os.write(go_write, b"ok")
        except isolation.IsolationError as exc:
            os.write(go_write, str(exc).encode()[:4000])
    os.close(go_write)
    _wait(pid, config, alive_write)


def _supervise_unprivileged(config: dict[str, Any]) -> None:
    """Not root: an unprivileged user namespace mapping our own uid/gid to 65534 inside."""
    uid, gid = os.geteuid(), os.getegid()
    isolation.unshare(isolation.CLONE_NEWUSER)
    isolation.write_id_maps("self", f"{INNER_ID} {uid} 1", f"{INNER_ID} {gid} 1", True)
    isolation.unshare(isolation.CLONE_NEWPID)
    alive_read, alive_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(alive_write)
        _worker(config, alive_read)
    os.close(alive_read)
    _wait(pid, config, alive_write)


def _wait(pid: int, config: dict[str, Any], alive_write: int) -> None:
    """Hold nothing of the worker's pipes (their EOF means the worker is gone), keep the
    lifeline pipe open while it lives, and pass its fate on as our exit status."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    isolation.close_fds_except({0, 1, 2, alive_write})
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(SETUP_EXIT)
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    sig = os.WTERMSIG(status)
    # The kernel kills at the hard RLIMIT_CPU by its own clock; rusage reads up to ~10% lower.
    used = usage.ru_utime + usage.ru_stime
    if sig == signal.SIGKILL and used >= 0.8 * config["cpu_seconds"]:
        os._exit(CPU_EXIT)
    os._exit(128 + sig)


# -- the worker (PID 1 of the new PID namespace) ------------------------------------------------


def _worker(config: dict[str, Any], alive_read: int, become: tuple[int, int] | None = None) -> None:
    try:
        _isolate(config, alive_read, become)
    except isolation.IsolationError as exc:
        _report(_kind(exc), str(exc))
        os._exit(SETUP_EXIT)
    except Exception as exc:  # noqa: BLE001  (report anything, then give up)
        _report("setup", f"sandbox set-up: {type(exc).__name__}: {exc}")
        os._exit(SETUP_EXIT)
    if config["language"] == "nodejs":
        _exec_node(config)
    _python_worker(config)


def _isolate(config: dict[str, Any], alive_read: int, become: tuple[int, int] | None) -> None:
    os.setsid()
    isolation.unshare(NAMESPACES)
    isolation.sethostname("sandbox")
    uid, gid = become or (INNER_ID, INNER_ID)
    files = dict(ETC_FILES)
    files["/etc/passwd"] = f"sandbox:x:{uid}:{gid}:sandbox:/tmp:/bin/false\n".encode()
    files["/etc/group"] = f"sandbox:x:{gid}:\n".encode()
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        try:
            with open(name, "rb") as handle:
                files[name] = handle.read()
        except OSError:
            pass
    if config["language"] == "nodejs":
        with open(config["worker_js"], "rb") as handle:
            files["/sandbox/worker.js"] = handle.read()
    isolation.build_root(
        readonly_dirs=config["readonly_dirs"],
        devices=["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"],
        files=files,
        mask_dirs=config["mask_dirs"],
        tmp_bytes=2 * config["max_file_bytes"],
        after_open=None if become is None else lambda: _become(*become),
    )
    os.chdir("/tmp")
    os.environ.clear()
    os.environ.update(SAFE_ENV)
    import resource

    mb = 1024 * 1024
    memory = config["memory_mb"] * mb
    limits: dict[int, int | tuple[int, int]] = {
        resource.RLIMIT_CPU: config["cpu_seconds"],
        resource.RLIMIT_FSIZE: config["max_file_bytes"],
        resource.RLIMIT_NPROC: config["max_processes"],
        resource.RLIMIT_NOFILE: 256,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MSGQUEUE: 0,
        resource.RLIMIT_MEMLOCK: 0,
    }
    if config["language"] == "nodejs":
        # V8 reserves (but does not use) ~0.7 GB of address space; the heap is capped by
        # --max-old-space-size, private memory by RLIMIT_DATA, everything by RLIMIT_AS.
        limits[resource.RLIMIT_DATA] = memory + 128 * mb
        limits[resource.RLIMIT_AS] = memory + 1024 * mb
    else:
        limits[resource.RLIMIT_AS] = memory + 64 * mb  # + the interpreter's own mappings
    isolation.set_limits(limits)
    isolation.drop_capabilities()
    isolation.install_seccomp()
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    # The supervisor may have died before the line above: its end of the lifeline is then
    # closed, and a poll says so.
    import select

    poller = select.poll()
    poller.register(alive_read, select.POLLIN | select.POLLHUP)
    if poller.poll(0):
        os._exit(SETUP_EXIT)


def _become(uid: int, gid: int) -> None:
    """Root's worker: from the unmapped host root to the mapped sandbox user (capabilities in
    the new user namespace stay until ``drop_capabilities``)."""
    os.setresgid(gid, gid, gid)
    os.setgroups([])
    os.setresuid(uid, uid, uid)


def _exec_node(config: dict[str, Any]) -> None:
    argv = [
        config["node"],
        f"--max-old-space-size={config['memory_mb']}",
        "--v8-pool-size=1",
        "--experimental-permission",
        "--allow-fs-read=/tmp/*",
        "--allow-fs-read=/sandbox/worker.js",
        "--allow-fs-write=/tmp/*",
        "--no-warnings",
        "/sandbox/worker.js",
        str(config["max_output"]),
    ]
    try:
        os.execve(config["node"], argv, SAFE_ENV)
    except OSError as exc:
        _report("setup", f"cannot start node: {exc}")
        os._exit(SETUP_EXIT)


def _python_worker(config: dict[str, Any]) -> None:
    sys.argv[:] = ["main.py"]  # the launcher's configuration is none of the code's business
    os.write(RESULT_FD, b"ready\n")
    job = _read_job()
    if job is None:
        os._exit(0)
    kind, payload = _run_python(job["code"], job["inputs"], config["max_output"])
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    _write_all(RESULT_FD, f"{kind} ".encode() + payload + b"\n")
    os._exit(0 if kind == "result" else 1)


def _run_python(code: str, inputs: dict[str, Any], max_output: int) -> tuple[str, bytes]:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "main.py", "exec"), namespace)
        function = namespace.get("main")
        if not callable(function):
            raise NameError("name 'main' is not defined")
        result = json.dumps(function(**inputs), ensure_ascii=False).encode("utf-8")
    except MemoryError:
        return "error", _error("memory", "MemoryError", None)
    except OSError as exc:
        if exc.errno == errno.ENOMEM:
            return "error", _error("memory", str(exc), None)
        return "error", _error("code", _describe(exc), _line(exc))
    except BaseException as exc:  # noqa: BLE001  (the code may raise anything, SystemExit too)
        return "error", _error("code", _describe(exc), _line(exc))
    if len(result) > max_output:
        return "error", _error("output", "result too large", None)
    return "result", result


def _describe(exc: BaseException) -> str:
    import traceback

    lines = traceback.format_exception_only(type(exc), exc)
    return (lines[-1] if lines else type(exc).__name__).strip()


def _line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename == "main.py":
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "main.py":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _error(kind: str, message: str, line: int | None) -> bytes:
    return json.dumps({"kind": kind, "message": message, "line": line}).encode()


def _read_job() -> dict[str, Any] | None:
    header = _read_exactly(16)
    if header is None:
        return None
    body = _read_exactly(int(header))
    if body is None:
        return None
    job: dict[str, Any] = json.loads(body)
    return job


def _read_exactly(size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(0, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    main()
