"""What a retrieval leaves behind: a hit on each returned segment (``SegmentHit``) and the
recorded query (a ``DatasetQuery`` per searched dataset).

Written off the request path by default: ``record`` hands the retrieval to a writer thread
of this process, which writes everything queued in one statement (on its own database
connection) — the caller does not wait for a write and a commit per query. Inside a
transaction (a caller's atomic block, the test suite) the rows are written at once on the
caller's connection, where they belong to its transaction. DATASET_RETRIEVAL_RECORD_ASYNC=0
writes every retrieval synchronously. Best effort either way: a segment or dataset deleted
meanwhile is skipped, a failed write is logged, never raised to the caller; retrievals
still queued when the process is killed are lost (a clean exit flushes them).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500


@dataclass(frozen=True)
class Retrieval:
    workspace_id: str
    query: str
    source: str
    retrieval_model: dict[str, Any]
    elapsed: float
    segment_ids: Sequence[str] = ()  # one hit each
    dataset_ids: Sequence[str] = ()  # a recorded query each (empty: not recorded)
    result_counts: Sequence[int] = ()  # per dataset of dataset_ids


def record_async() -> bool:
    return bool(getattr(settings, "DATASET_RETRIEVAL_RECORD_ASYNC", True))


def record(item: Retrieval) -> None:
    if not item.segment_ids and not item.dataset_ids:
        return
    if connection.in_atomic_block or not record_async() or not _writer().put(item):
        write([item])


def flush(timeout: float = 10.0) -> None:
    """Wait until everything queued so far is written (tests, shutdown)."""
    writer = _state.get("writer")
    if writer is not None and writer.pid == os.getpid():
        writer.flush(timeout)


def write(items: Sequence[Retrieval]) -> None:
    """Hits and queries of ``items`` in one statement (on this thread's connection)."""
    hits = Counter(s for item in items for s in item.segment_ids)
    queries = [
        (item, dataset_id, count)
        for item in items
        for dataset_id, count in zip(item.dataset_ids, item.result_counts, strict=True)
    ]
    parts: list[str] = []
    params: list[Any] = []
    if hits:  # sorted: concurrent writers lock the counter rows in the same order
        ids = sorted(hits)
        parts.append(
            "INSERT INTO datasets_segmenthit (segment_id, hit_count) "
            "SELECT s.id, u.hits FROM unnest(%s::uuid[], %s::int[]) AS u(id, hits) "
            "JOIN datasets_segment s ON s.id = u.id ORDER BY s.id "
            "ON CONFLICT (segment_id) DO UPDATE SET "
            "hit_count = datasets_segmenthit.hit_count + EXCLUDED.hit_count"
        )
        params += [ids, [hits[i] for i in ids]]
    if queries:
        parts.append(
            "INSERT INTO datasets_datasetquery (id, workspace_id, dataset_id, content, source, "
            "retrieval_model, result_count, elapsed, created_at) "
            "SELECT gen_random_uuid(), u.workspace_id, d.id, u.content, u.source, "
            "u.model::jsonb, u.result_count, u.elapsed, now() "
            "FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::int[], "
            "%s::float8[]) AS u(workspace_id, dataset_id, content, source, model, result_count, "
            "elapsed) JOIN datasets_dataset d ON d.id = u.dataset_id"
        )
        params += [
            [item.workspace_id for item, _, _ in queries],
            [dataset_id for _, dataset_id, _ in queries],
            [item.query for item, _, _ in queries],
            [item.source for item, _, _ in queries],
            [json.dumps(item.retrieval_model, default=str) for item, _, _ in queries],
            [count for _, _, count in queries],
            [item.elapsed for item, _, _ in queries],
        ]
    if not parts:
        return
    sql = parts[0] if len(parts) == 1 else f"WITH hits AS ({parts[0]}) {parts[1]}"
    try:
        block = transaction.atomic() if connection.in_atomic_block else nullcontext()
        with block, connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        logger.warning("recording %d retrieval(s) failed", len(items), exc_info=True)


class _Writer:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[Retrieval | threading.Event] = queue.Queue(QUEUE_SIZE)
        self.thread = threading.Thread(target=self._run, name="kb-recorder", daemon=True)
        self.thread.start()

    def put(self, item: Retrieval) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:  # writes fell behind: the caller writes this one itself
            return False

    def flush(self, timeout: float) -> None:
        done = threading.Event()
        try:
            self.queue.put(done, timeout=timeout)
        except queue.Full:
            return
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            items = [i for i in batch if isinstance(i, Retrieval)]
            try:
                if items:
                    write(items)
            except Exception:
                logger.exception("retrieval recorder failed")
            finally:
                connection.close()  # back to the pool between batches
                for event in batch:
                    if isinstance(event, threading.Event):
                        event.set()


_state: dict[str, _Writer] = {}
_lock = threading.Lock()


def _writer() -> _Writer:
    writer = _state.get("writer")
    if writer is None or writer.pid != os.getpid():  # none yet, or inherited by a fork
        with _lock:
            writer = _state.get("writer")
            if writer is None or writer.pid != os.getpid():
                writer = _state["writer"] = _Writer()
    return writer


atexit.register(flush, 5.0)
