"""Reused daemon threads for request handlers, and for the work a handler defers until its
answer is out.

A streamed answer's producer (the model stream, the engine) used to start on a thread of
its own while the view was still running: once the view returned, the producer waited for
the GIL and for a free core behind the request thread and the event loop (~0.4 ms on two
idle cores, ~1 ms when the host steals CPU time, before the model request went out). A
view can instead defer the producer with ``defer_until_answered``: the request thread
hands the response to the event loop, then runs the producer itself, with no hand-off.

``RequestThreads(limit)`` bounds how many request *handlers* run at once (a request beyond
that waits for a free slot); a thread that has moved on to a deferred producer no longer
counts, so hundreds of open streams do not hold requests back. ``DaemonThreads`` is the
plain pool under it: an idle thread takes the next job, a new one starts when none is
idle, and past a burst threads beyond ``IDLE_MAX`` idle ones end.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

Job = Callable[[], None]


class DaemonThreads:
    """Daemon threads that take jobs from one queue. Handing a job to an idle thread is a
    queue put; starting a thread per job made the submitter wait for the GIL until the new
    thread's first I/O."""

    IDLE_MAX = 64

    def __init__(self, name: str):
        self.name = name
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, job: Job) -> None:
        with self._lock:
            spawn = self._idle == 0
            if spawn:
                self._started += 1
                number = self._started
            else:
                self._idle -= 1  # an idle thread will take it
        self._jobs.put(job)
        if spawn:
            name = f"{self.name}-{number}"
            threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a job must not take the thread down
                logger.exception("job on %s crashed", threading.current_thread().name)
            with self._lock:
                if self._idle >= self.IDLE_MAX:
                    return
                self._idle += 1


_deferred = threading.local()


def defer_until_answered(job: Job) -> bool:
    """Run ``job`` on this request thread once the request's response has been handed to
    the event loop. False when this thread does not serve a request through
    ``RequestThreads`` (a test client, a management command): run ``job`` elsewhere."""
    jobs: list[Job] | None = getattr(_deferred, "jobs", None)
    if jobs is None:
        return False
    jobs.append(job)
    return True


class RequestThreads:
    """At most ``limit`` request handlers at once on reused threads; each handler's deferred
    jobs run on its thread after it, outside the limit."""

    def __init__(self, limit: int, name: str = "request"):
        if limit < 1:
            raise ValueError("the request thread limit must be at least 1")
        self.limit = limit
        self._threads = DaemonThreads(name)
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: deque[Job] = deque()

    def submit(self, handler: Job) -> None:
        """Run ``handler`` (which must hand its result on itself) when a slot is free."""
        job = self._job(handler)
        with self._lock:
            if self._running >= self.limit:
                self._waiting.append(job)
                return
            self._running += 1
        self._threads.submit(job)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _job(self, handler: Job) -> Job:
        def run() -> None:
            _deferred.jobs = []
            try:
                handler()
            finally:
                jobs, _deferred.jobs = _deferred.jobs, None
                self._release()
            for job in jobs:
                try:
                    job()
                except Exception:
                    logger.exception("deferred job of a request crashed")

        return run

    def _release(self) -> None:
        with self._lock:
            if not self._waiting:
                self._running -= 1
                return
            job = self._waiting.popleft()  # the slot passes on to the next request
        self._threads.submit(job)
