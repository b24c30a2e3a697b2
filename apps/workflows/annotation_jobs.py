"""The annotation reply enable/disable jobs (the body of the Celery task): the outcome is
on the ``AnnotationReplyJob`` row, which any process can read."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction

from apps.core.errors import AppError
from apps.workflows.annotation_index import embed_missing, model_of, reply_setting_changed
from apps.workflows.models import Annotation, AnnotationReplyJob, AnnotationReplySetting, App

logger = logging.getLogger(__name__)
Job = AnnotationReplyJob


def _job_update(job: AnnotationReplyJob, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    job.save(update_fields=[*fields, "updated_at"])


def annotation_reply_job_run(job_id: uuid.UUID | str) -> None:
    """Run an enable or disable job once (a finished job is left alone: safe to repeat).

    enable: embed what lacks the chosen model's embedding, switch the setting to it, then
    embed again what was added meanwhile (annotations added after the switch embed
    themselves). disable: the setting goes off and the embeddings are dropped."""
    job = AnnotationReplyJob.objects.select_related("app__workspace").filter(pk=job_id).first()
    if job is None or job.status in (Job.Status.COMPLETED, Job.Status.ERROR):
        return
    _job_update(job, status=Job.Status.PROCESSING)
    try:
        if job.action == Job.Action.ENABLE:
            written = embed_missing(job.app, model_of(job))
            _setting_switch_on(job)
            written += embed_missing(job.app, model_of(job))
            _job_update(job, status=Job.Status.COMPLETED, embedded=written)
        else:
            _setting_switch_off(job)
            _job_update(job, status=Job.Status.COMPLETED)
    except Exception as exc:
        if not isinstance(exc, AppError):
            logger.exception("annotation reply job %s failed", job.pk)
        message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        _job_update(job, status=Job.Status.ERROR, error_msg=message[:2000])


def _setting_switch_on(job: AnnotationReplyJob) -> None:
    with transaction.atomic():
        App.objects.select_for_update().filter(pk=job.app_id).first()  # one switch at a time
        AnnotationReplySetting.objects.update_or_create(
            app_id=job.app_id,
            defaults={
                "workspace_id": job.workspace_id,
                "enabled": True,
                "score_threshold": job.score_threshold if job.score_threshold is not None else 0.9,
                "embedding_provider": job.embedding_provider,
                "embedding_model": job.embedding_model,
            },
        )
    reply_setting_changed(job.app_id)


def _setting_switch_off(job: AnnotationReplyJob) -> None:
    with transaction.atomic():
        App.objects.select_for_update().filter(pk=job.app_id).first()
        AnnotationReplySetting.objects.filter(app_id=job.app_id).update(enabled=False)
        Annotation.objects.filter(app_id=job.app_id).update(
            embedding=None, embedding_provider="", embedding_model=""
        )
    reply_setting_changed(job.app_id)
