"""Running tasks (chat messages, workflow runs) and their stop requests.

``POST …/{task_id}/stop`` may land on another process or replica than the one running the
task: with REDIS_URL the request is a Redis key that every process's watcher thread polls
(one MGET for all its local tasks every ``POLL_SECONDS``); without Redis, everything runs in
one process and the local event is set directly.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.2
TASK_TTL_SECONDS = 3600
_PREFIX = "dify:task:"


@dataclass
class _Task:
    app_id: str
    user: str
    stop: threading.Event


class TaskRegistry:
    def __init__(self, redis_url: str = ""):
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._redis: Any = None
        self._watcher: threading.Thread | None = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def register(self, task_id: str, *, app_id: str, user: str) -> threading.Event:
        task = _Task(app_id, user, threading.Event())
        with self._lock:
            self._tasks[task_id] = task
        if self._redis is not None:
            owner = json.dumps({"app_id": app_id, "user": user})
            self._redis.set(_PREFIX + task_id, owner, ex=TASK_TTL_SECONDS)
            self._ensure_watcher()
        return task.stop

    def finish(self, task_id: str) -> None:
        with self._lock:
            self._tasks.pop(task_id, None)
        if self._redis is not None:
            self._redis.delete(_PREFIX + task_id, _PREFIX + task_id + ":stop")

    def request_stop(self, task_id: str, *, app_id: str, user: str) -> bool:
        """Ask the task to stop; False when no such running task belongs to (app, user)."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is not None:
            if (task.app_id, task.user) != (app_id, user):
                return False
            task.stop.set()
            return True
        if self._redis is None:
            return False
        raw = self._redis.get(_PREFIX + task_id)
        if raw is None:
            return False
        owner = json.loads(raw)
        if (owner.get("app_id"), owner.get("user")) != (app_id, user):
            return False
        self._redis.set(_PREFIX + task_id + ":stop", "1", ex=TASK_TTL_SECONDS)
        return True

    def _ensure_watcher(self) -> None:
        with self._lock:
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(
                    target=self._watch, name="task-stop-watcher", daemon=True
                )
                self._watcher.start()

    def _watch(self) -> None:
        stopper = threading.Event()
        while not stopper.wait(POLL_SECONDS):
            with self._lock:
                ids = [t for t, task in self._tasks.items() if not task.stop.is_set()]
            if not ids:
                continue
            try:
                flags = self._redis.mget([_PREFIX + t + ":stop" for t in ids])
            except Exception as exc:  # noqa: BLE001 - keep watching; Redis may come back
                logger.warning("stop watcher: redis unavailable: %s", exc)
                continue
            for task_id, flag in zip(ids, flags, strict=True):
                if flag:
                    with self._lock:
                        task = self._tasks.get(task_id)
                    if task is not None:
                        task.stop.set()


_registry: TaskRegistry | None = None


def task_registry() -> TaskRegistry:
    global _registry
    if _registry is None:
        _registry = TaskRegistry(settings.REDIS_URL)
    return _registry
