"""Pre-warmed one-shot sandbox workers.

A worker is one ``launcher.py`` process pair, already isolated and waiting on a pipe for
exactly one job; after the job it exits, so no process ever runs two jobs (two tenants'
code never meet). The pool keeps ``size`` ready workers per language that has been used,
refilled by one background thread; a call that finds none ready starts its own (a cold
start, ~30-60 ms).

Thread-safe (a lock around the ready queues; the job itself runs in the caller's thread
with ``poll``) and fork-safe: in a forked child (Celery's prefork pool, ``multiprocessing``)
the inherited workers belong to the parent, so the child closes its copies of their pipes
and starts an empty pool of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import select
import signal
import subprocess
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
WORKER_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.js")
START_TIMEOUT = 30.0  # seconds for a worker to get ready (cold start under heavy load)
SPAWN_ENV = {"LANG": "C.UTF-8"}  # nothing of the app's environment reaches the sandbox
_KEEP = 4096  # bytes of the code's output kept (head and tail) to explain a crash


class SandboxStartError(Exception):
    """A worker could not be made ready. ``kind`` is "isolation" when this host cannot
    build the sandbox at all (no namespaces), else "setup"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class WorkerGone(Exception):
    """The worker died before it took the job (safe to retry with another one)."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a worker is started with (one pool per distinct spec)."""

    python: str
    node: str | None
    readonly_dirs: tuple[str, ...]
    mask_dirs: tuple[str, ...]
    uid: int
    gid: int
    cpu_seconds: int
    memory_mb: int
    max_file_bytes: int
    max_processes: int
    max_output: int

    def config(self, language: str, result_fd: int) -> str:
        return json.dumps(
            {
                "language": language,
                "result_fd": result_fd,
                "node": self.node,
                "worker_js": WORKER_JS,
                "readonly_dirs": list(self.readonly_dirs),
                "mask_dirs": list(self.mask_dirs),
                "uid": self.uid,
                "gid": self.gid,
                "cpu_seconds": self.cpu_seconds,
                "memory_mb": self.memory_mb,
                "max_file_bytes": self.max_file_bytes,
                "max_processes": self.max_processes,
                "max_output": self.max_output,
            }
        )


@dataclass
class Outcome:
    """What one job left behind."""

    reply: bytes = b""  # the "result ..." / "error ..." line, if any
    returncode: int | None = None
    timed_out: bool = False
    reply_overflow: bool = False
    output_overflow: bool = False
    output_head: bytes = b""
    output_tail: bytes = b""
    elapsed: float = 0.0

    @property
    def output(self) -> bytes:
        return self.output_head + self.output_tail


class Worker:
    """One isolated process waiting for one job."""

    def __init__(self, language: str, spec: LaunchSpec):
        self.language = language
        job_read, self.job_write = os.pipe()
        self.out_read, out_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [spec.python, "-I", "-S", LAUNCHER, spec.config(language, reply_write)],
                stdin=job_read,
                stdout=out_write,
                stderr=out_write,
                pass_fds=(reply_write,),
                env=SPAWN_ENV,
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (self.job_write, self.out_read, self.reply_read):
                os.close(fd)
            raise SandboxStartError("setup", f"cannot start {spec.python}: {exc}") from exc
        finally:
            for fd in (job_read, out_write, reply_write):
                os.close(fd)
        self._buffer = b""
        self.closed = False
        self.killed = False
        _LIVE.add(self)

    # -- start-up ----------------------------------------------------------------------------
    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        poller = select.poll()  # not select(): the app may hold more than 1024 descriptors
        poller.register(self.reply_read, select.POLLIN)
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.discard()
                raise SandboxStartError("setup", f"the sandbox did not start within {timeout:g} s")
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(self.reply_read, 65536)
            if not chunk:
                break
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        if line == b"ready":
            return
        self.discard()
        kind, message = "setup", "the sandbox exited while starting"
        if line.startswith(b"error "):
            with contextlib.suppress(ValueError, AttributeError):
                report = json.loads(line[6:])
                kind, message = str(report["kind"]), str(report["message"])
        raise SandboxStartError(kind, message)

    def alive(self) -> bool:
        return not self.closed and self.process.poll() is None

    # -- the job ----------------------------------------------------------------------------
    def run(self, job: bytes, timeout: float, max_output: int) -> Outcome:
        """Hand the job over and collect the answer line and the printed output. Returns as
        soon as the answer is complete (the reaper kills and reaps the worker), or when the
        worker is gone, or after ``timeout`` seconds (the worker is then killed)."""
        started = time.monotonic()
        deadline = started + timeout
        pending = memoryview(b"%015d\n" % len(job) + job)
        outcome = Outcome()
        reply = bytearray(self._buffer)
        state = {"size": 0, "accepted": False}
        os.set_blocking(self.job_write, False)
        poller = select.poll()
        poller.register(self.job_write, select.POLLOUT)
        poller.register(self.out_read, select.POLLIN)
        poller.register(self.reply_read, select.POLLIN)
        open_reads = {self.out_read, self.reply_read}
        answered = False
        while open_reads and not answered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if outcome.timed_out or self.killed:
                    break  # killed and still not drained: give up on the rest
                outcome.timed_out = True
                self.kill()
                deadline = time.monotonic() + 5.0
                continue
            for fd, events in poller.poll(remaining * 1000):
                if fd == self.job_write:
                    pending = self._send(poller, pending, events, state)
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    open_reads.discard(fd)
                elif fd == self.out_read:
                    self._keep_output(outcome, state, chunk, max_output)
                else:
                    reply += chunk
                    if len(reply) > max_output + 1024:
                        outcome.reply_overflow = True
                        self.kill()
                    elif reply.endswith(b"\n") and not self.killed:
                        # The answer is complete: take what was printed so far and leave
                        # the worker's exit and namespace teardown (~5 ms) to the reaper.
                        self._drain_output(outcome, state, max_output)
                        answered = True
        if not outcome.reply_overflow:
            outcome.reply = bytes(reply).strip()
        if len(outcome.output_head) < _KEEP:  # everything fits in the head
            outcome.output_tail = b""
        if open_reads:
            _retire(self)
        else:
            try:
                outcome.returncode = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
                outcome.returncode = self.process.wait()
            self.close()
        outcome.elapsed = time.monotonic() - started
        return outcome

    def _send(
        self, poller: select.poll, pending: memoryview, events: int, state: dict[str, Any]
    ) -> memoryview:
        if not events & select.POLLOUT:  # POLLERR/POLLHUP: the worker is gone
            poller.unregister(self.job_write)
            if state["accepted"]:
                return pending
            self.discard()
            raise WorkerGone()
        try:
            pending = pending[os.write(self.job_write, pending) :]
        except BrokenPipeError:
            if state["accepted"]:
                poller.unregister(self.job_write)
                return pending
            self.discard()
            raise WorkerGone() from None
        except BlockingIOError:
            return pending
        state["accepted"] = True
        if not pending:
            poller.unregister(self.job_write)
        return pending

    def _keep_output(
        self, outcome: Outcome, state: dict[str, Any], chunk: bytes, limit: int
    ) -> None:
        state["size"] += len(chunk)
        if len(outcome.output_head) < _KEEP:
            outcome.output_head += chunk[: _KEEP - len(outcome.output_head)]
        outcome.output_tail = (outcome.output_tail + chunk)[-_KEEP:]
        if state["size"] > limit and not outcome.output_overflow:
            outcome.output_overflow = True
            self.kill()

    def _drain_output(self, outcome: Outcome, state: dict[str, Any], limit: int) -> None:
        """What the code printed and is still in the pipe (read without waiting)."""
        os.set_blocking(self.out_read, False)
        while True:
            try:
                chunk = os.read(self.out_read, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._keep_output(outcome, state, chunk, limit)

    # -- ending --------------------------------------------------------------------------------
    def kill(self) -> None:
        """SIGKILL the supervisor; the worker dies with it (parent-death signal) and with the
        worker, its PID namespace. Safe against pid reuse: the supervisor is not reaped yet."""
        self.killed = True
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fd in (self.job_write, self.out_read, self.reply_read):
            with contextlib.suppress(OSError):
                os.close(fd)

    def discard(self) -> None:
        """Stop an unused worker and reap it."""
        self.kill()
        self.close()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            self.process.wait(timeout=5)

    def forget(self) -> None:
        """In a forked child: the process is the parent's; only close our copies of the pipes."""
        self.close()
        self.process.returncode = -1  # never wait for (or kill) another process's child


class WorkerPool:
    """Ready workers per language, refilled in the background up to ``size`` each."""

    def __init__(self, spec: LaunchSpec, size: int):
        self.spec = spec
        self.size = max(size, 0)
        self._reset()
        _POOLS.add(self)

    def _reset(self) -> None:
        self._owner = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._ready: dict[str, deque[Worker]] = {}
        self._starting: dict[str, int] = {}
        self._wanted: set[str] = set()
        self._thread: threading.Thread | None = None
        self._closed = False

    def take(self, language: str) -> Worker:
        """A ready worker for ``language``: from the pool, else started now (cold)."""
        if os.getpid() != self._owner:
            self._after_fork()
        worker = None
        with self._cond:
            ready = self._ready.setdefault(language, deque())
            while ready and worker is None:
                candidate = ready.popleft()
                if candidate.alive():
                    worker = candidate
                else:
                    candidate.discard()
            if self.size and not self._closed:
                self._wanted.add(language)
                self._ensure_thread()
                self._cond.notify_all()
        if worker is None:
            worker = Worker(language, self.spec)
            worker.wait_ready()
        return worker

    def warm(self, language: str, timeout: float = START_TIMEOUT) -> bool:
        """Start filling the pool for ``language`` and wait until it is full (benchmarks)."""
        with self._cond:
            self._wanted.add(language)
            self._ensure_thread()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if len(self._ready.get(language, ())) >= self.size:
                    return True
                if language not in self._wanted:
                    return False  # the refill failed
            time.sleep(0.005)
        return False

    def ready_count(self, language: str) -> int:
        with self._cond:
            return len(self._ready.get(language, ()))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers = [w for ready in self._ready.values() for w in ready]
            self._ready.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.discard()

    # -- background refill -------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._refill_loop, name="code-sandbox-pool", daemon=True
            )
            self._thread.start()

    def _next_language(self) -> str | None:
        for language in sorted(self._wanted):
            have = len(self._ready.get(language, ())) + self._starting.get(language, 0)
            if have < self.size:
                return language
        return None

    def _refill_loop(self) -> None:
        cond = self._cond
        while True:
            with cond:
                language = None
                while not self._closed and cond is self._cond:
                    language = self._next_language()
                    if language is not None:
                        break
                    cond.wait()
                if language is None:
                    return
                self._starting[language] = self._starting.get(language, 0) + 1
            worker: Worker | None = None
            try:
                worker = Worker(language, self.spec)
                worker.wait_ready()
            except (SandboxStartError, OSError):
                worker = None
            with cond:
                self._starting[language] -= 1
                if worker is None:
                    self._wanted.discard(language)  # the next take() starts one and reports
                elif self._closed or cond is not self._cond:
                    pass
                else:
                    self._ready.setdefault(language, deque()).append(worker)
                    worker = None
            if worker is not None:
                worker.discard()

    def _after_fork(self) -> None:
        for ready in self._ready.values():
            for worker in ready:
                worker.forget()
        self._reset()


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_LIVE: weakref.WeakSet[Worker] = weakref.WeakSet()
_RETIRED: queue.SimpleQueue[Worker] = queue.SimpleQueue()
_REAPER: list[threading.Thread] = []
_REAPER_LOCK = threading.Lock()


def _retire(worker: Worker) -> None:
    """Kill a worker that has answered and reap it on a background thread."""
    worker.kill()
    worker.close()
    _RETIRED.put(worker)
    with _REAPER_LOCK:
        if not _REAPER or not _REAPER[0].is_alive() or _REAPER[0].ident is None:
            thread = threading.Thread(target=_reap_forever, name="code-sandbox-reaper", daemon=True)
            _REAPER[:] = [thread]
            thread.start()


def _reap_forever() -> None:
    while True:
        worker = _RETIRED.get()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            worker.process.wait(timeout=30)


def _after_fork_in_child() -> None:
    global _REAPER_LOCK, _RETIRED
    _REAPER_LOCK = threading.Lock()  # another thread may have held it at the fork
    _RETIRED = queue.SimpleQueue()  # the parent's retired workers are the parent's to reap
    _REAPER.clear()
    for pool in list(_POOLS):
        pool._after_fork()
    for worker in list(_LIVE):  # in flight or starting in the parent's other threads
        worker.forget()


def _close_all() -> None:
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):
            pool.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all)
