"""Celery tasks of the workflows app: annotation embeddings and the annotation reply jobs.

Both are idempotent (an embedded annotation or a finished job is left alone) and safe to
redeliver (``acks_late``). Without a broker they run in the calling process."""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app, shared_task
from django.db import transaction

from apps.core.errors import AppError
from apps.workflows import annotation_index, annotation_jobs

logger = logging.getLogger(__name__)

EMBED_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=EMBED_RETRIES,
    name="apps.workflows.tasks.annotation_embed",
)
def annotation_embed(self: Any, annotation_id: str) -> None:
    """Embed an annotation added or changed while annotation reply is on. A failing model
    call retries with backoff; in-process it is logged and the next enable job embeds it."""
    try:
        annotation_index.annotation_embed(annotation_id)
    except AppError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            logger.warning("embedding annotation %s failed: %s", annotation_id, exc.message)
            return
        raise self.retry(exc=exc, countdown=min(2**self.request.retries * 5, 120)) from exc


@shared_task(acks_late=True, name="apps.workflows.tasks.annotation_reply_job")
def annotation_reply_job(job_id: str) -> None:
    """Run an annotation reply enable/disable job; the outcome is on the job row."""
    annotation_jobs.annotation_reply_job_run(job_id)


def queue(task: Any, *args: str) -> None:
    """Send ``task`` after the current transaction commits; in-process (eager) mode runs it
    right away in this connection, where the new rows are already visible."""
    if current_app.conf.task_always_eager:
        task.delay(*args)
        return
    transaction.on_commit(lambda: task.delay(*args))
