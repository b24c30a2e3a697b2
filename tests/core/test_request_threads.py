"""The request thread pool: a bound on handlers, deferred jobs on the handler's thread
outside that bound, and a fallback off request threads."""

from __future__ import annotations

import threading
import time

import pytest

from apps.core.request_threads import DaemonThreads, RequestThreads, defer_until_answered

WAIT = 5.0


def test_at_most_limit_handlers_run_and_the_rest_wait_their_turn():
    pool = RequestThreads(2)
    release = threading.Event()
    lock = threading.Lock()
    state = {"running": 0, "peak": 0, "done": 0}
    all_done = threading.Event()

    def handler() -> None:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        release.wait(WAIT)
        with lock:
            state["running"] -= 1
            state["done"] += 1
            if state["done"] == 5:
                all_done.set()

    for _ in range(5):
        pool.submit(handler)
    time.sleep(0.2)
    assert state["running"] == 2 and pool.waiting == 3
    release.set()
    assert all_done.wait(WAIT)
    assert state["peak"] == 2 and pool.waiting == 0


def test_a_deferred_job_runs_after_its_handler_on_its_thread_outside_the_limit():
    pool = RequestThreads(1)
    order: list[tuple[str, str]] = []
    producing, release, second_done = threading.Event(), threading.Event(), threading.Event()

    def producer() -> None:
        order.append(("producer", threading.current_thread().name))
        producing.set()
        release.wait(WAIT)

    def first() -> None:
        assert defer_until_answered(producer)
        order.append(("handler", threading.current_thread().name))

    def second() -> None:
        order.append(("second", threading.current_thread().name))
        second_done.set()

    pool.submit(first)
    assert producing.wait(WAIT)
    pool.submit(second)  # the only slot is free again while the producer still runs
    assert second_done.wait(WAIT)
    release.set()
    assert [step for step, _ in order] == ["handler", "producer", "second"]
    assert order[0][1] == order[1][1] != order[2][1]
    assert order[0][1].startswith("request")


def test_a_failing_handler_or_job_frees_its_slot_and_the_thread_goes_on():
    pool = RequestThreads(1)
    ran = threading.Event()

    def broken_job() -> None:
        raise RuntimeError("deferred boom")

    def broken_handler() -> None:
        defer_until_answered(broken_job)
        raise RuntimeError("handler boom")

    pool.submit(broken_handler)
    pool.submit(ran.set)
    assert ran.wait(WAIT)


def test_off_a_request_thread_nothing_is_deferred():
    assert defer_until_answered(lambda: None) is False
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(defer_until_answered(lambda: None)))
    thread.start()
    thread.join(WAIT)
    assert seen == [False]


def test_an_idle_thread_takes_the_next_job():
    pool = DaemonThreads("job")
    names: list[str] = []
    for _ in range(3):
        done = threading.Event()

        def job(done: threading.Event = done) -> None:
            names.append(threading.current_thread().name)
            done.set()

        pool.submit(job)
        assert done.wait(WAIT)
        time.sleep(0.05)  # the thread is back to idle
    assert len(set(names)) == 1 and names[0].startswith("job-")


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        RequestThreads(0)
