"""Celery tasks of the knowledge bases: indexing one document, and re-queuing documents
whose worker stopped (stale heartbeat). Both are idempotent and safe to run twice."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import current_app, shared_task
from django.db import transaction
from django.utils import timezone

from apps.datasets import indexing
from apps.datasets.models import Document

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
REQUEUE_TASK = "apps.datasets.tasks.requeue_stale_documents"
REQUEUE_EVERY_SECONDS = 60


@shared_task(
    bind=True, acks_late=True, max_retries=MAX_ATTEMPTS, name="apps.datasets.tasks.index_document"
)
def index_document(self, document_id: str) -> None:  # type: ignore[no-untyped-def]
    """Run the pipeline; transient model errors retry with exponential backoff (at most 3
    times), then the document ends in status error with the reason."""
    retries = 0
    while True:
        try:
            indexing.run_indexing(document_id)
            return
        except indexing.TransientIndexingError as exc:
            if self.request.is_eager and retries < self.max_retries:
                retries += 1  # in-process mode: retry at once, there is no broker to wait on
                Document.objects.filter(pk=document_id).update(
                    indexing_status=Document.Status.WAITING
                )
                continue
            if self.request.is_eager or self.request.retries >= self.max_retries:
                indexing.mark_error(
                    document_id, f"{exc} (gave up after {retries or self.request.retries} retries)"
                )
                return
            Document.objects.filter(pk=document_id).update(indexing_status=Document.Status.WAITING)
            raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 300)) from exc


def queue_indexing(document_ids: Iterable[object]) -> None:
    """Queue indexing after the current transaction commits; in-process (eager) mode runs it
    right away in this connection, where the new rows are already visible."""
    ids = [str(i) for i in document_ids]
    if not ids:
        return
    if current_app.conf.task_always_eager:
        for document_id in ids:
            index_document.delay(document_id)
        return
    transaction.on_commit(lambda: [index_document.delay(i) for i in ids])


@shared_task(name=REQUEUE_TASK)
def requeue_stale_documents() -> dict[str, int]:
    """Documents in a running status (or waiting) whose heartbeat is older than
    DATASET_INDEXING_STALE_SECONDS go back to the queue; after 3 attempts they end in
    status error with the reason."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=indexing.stale_seconds())
    statuses = [Document.Status.WAITING, *indexing.RUNNING]
    requeued, failed = [], 0
    with transaction.atomic():
        stale = Document.objects.select_for_update(skip_locked=True).filter(
            indexing_status__in=statuses, is_paused=False, heartbeat_at__lt=cutoff
        )
        for document in stale:
            if document.indexing_attempts >= MAX_ATTEMPTS:
                indexing.mark_error(
                    document.pk,
                    f"indexing stopped in status {document.indexing_status!r} after "
                    f"{document.indexing_attempts} attempts: the worker stopped responding "
                    f"(last heartbeat {document.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)",
                )
                failed += 1
                continue
            Document.objects.filter(pk=document.pk).update(
                indexing_status=Document.Status.WAITING, heartbeat_at=now, updated_at=now
            )
            requeued.append(document.pk)
    if requeued or failed:
        logger.warning("re-queued %d stale document(s), %d failed", len(requeued), failed)
    queue_indexing(requeued)
    return {"requeued": len(requeued), "failed": failed}


def ensure_periodic_tasks() -> None:
    """Register requeue_stale_documents in django_celery_beat (every 60 s); idempotent.
    Call from the app's ``post_migrate`` handler (needs the beat tables)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=REQUEUE_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name="datasets: re-queue stale indexing",
        defaults={
            "task": REQUEUE_TASK,
            "interval": schedule,
            "args": json.dumps([]),
            "enabled": True,
        },
    )
