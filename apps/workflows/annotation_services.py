"""Annotations of an app and switching its annotation reply on and off (Dify's
``/v1/apps/annotations`` and ``/v1/apps/annotation-reply/{action}``).

Every lookup is scoped to the key's app (and its workspace): another app's annotation or
job is not found. Added or changed questions are embedded by a task while reply is on;
enable/disable are jobs (a row other processes read, see ``annotation_jobs``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.core.errors import InvalidParam, NotFound
from apps.providers.services import (
    ProviderNotInitialized,
    default_model_check,
    provider_credentials_get,
)
from apps.tenants.models import Membership
from apps.tenants.roles import Role
from apps.workflows import tasks
from apps.workflows.adapters.models import provider_name
from apps.workflows.annotation_index import reply_setting
from apps.workflows.models import Annotation, AnnotationReplyJob, App

Job = AnnotationReplyJob
ACTIONS = (Job.Action.ENABLE.value, Job.Action.DISABLE.value)
JOB_DEDUP_SECONDS = 600  # an unfinished job of the same action younger than this is reused
JOB_KEEP_DAYS = 1  # older jobs are removed when the app starts a new one


class AnnotationNotFound(NotFound):
    def __init__(self, message: str = "Annotation not found."):
        super().__init__(message)


def _owner(app: App) -> Any:
    """Dify records the workspace owner for annotations written with an app key."""
    membership = (
        Membership.objects.for_workspace(app.workspace_id)
        .filter(role=Role.OWNER)
        .select_related("user")
        .first()
    )
    return membership.user if membership is not None else None


# -- annotations ---------------------------------------------------------------------------
def annotation_item(annotation: Annotation) -> dict[str, Any]:
    """Dify's AnnotationItem."""
    return {
        "id": str(annotation.pk),
        "question": annotation.question,
        "answer": annotation.content,
        "hit_count": annotation.hit_count,
        "created_at": int(annotation.created_at.timestamp()),
    }


def annotation_get(*, app: App, annotation_id: object) -> Annotation:
    try:
        pk = uuid.UUID(str(annotation_id))
    except ValueError as exc:
        raise AnnotationNotFound() from exc
    found = Annotation.objects.for_workspace(app.workspace_id).filter(pk=pk, app=app).first()
    if found is None:
        raise AnnotationNotFound()
    return found


def annotations_list(
    *, app: App, page: int, limit: int, keyword: str = ""
) -> tuple[list[Annotation], int]:
    """A page of the app's annotations, newest first; ``keyword`` matches question or
    answer (case-insensitive). Returns the page and the total."""
    found = Annotation.objects.for_workspace(app.workspace_id).filter(app=app)
    if keyword:
        found = found.filter(Q(question__icontains=keyword) | Q(content__icontains=keyword))
    found = found.order_by("-created_at", "-id")
    return list(found[(page - 1) * limit : page * limit]), found.count()


def annotation_create(*, app: App, question: str, answer: str) -> Annotation:
    annotation = Annotation.objects.create(
        workspace_id=app.workspace_id, app=app, question=question, content=answer,
        created_by=_owner(app),
    )  # fmt: skip
    if reply_setting(app, fresh=True) is not None:
        tasks.queue(tasks.annotation_embed, str(annotation.pk))
    return annotation


def annotation_update(*, annotation: Annotation, question: str, answer: str) -> Annotation:
    """A new question drops the old embedding; with reply on, the new one is embedded."""
    changed = question != annotation.question
    annotation.question, annotation.content = question, answer
    fields = ["question", "content", "updated_at"]
    if changed:
        annotation.embedding = None
        annotation.embedding_provider = annotation.embedding_model = ""
        fields += ["embedding", "embedding_provider", "embedding_model"]
    annotation.save(update_fields=fields)
    if changed and reply_setting(annotation.app, fresh=True) is not None:
        tasks.queue(tasks.annotation_embed, str(annotation.pk))
    return annotation


def annotation_delete(*, annotation: Annotation) -> None:
    annotation.delete()  # its hit history goes with it, as in Dify


# -- annotation reply -------------------------------------------------------------------------
def job_payload(job: AnnotationReplyJob, *, with_error: bool = False) -> dict[str, Any]:
    """Dify's InitialAnnotationReplySettingsResponse (…StatusResponse with ``error_msg``)."""
    body: dict[str, Any] = {"job_id": str(job.pk), "job_status": job.status}
    if with_error:
        body["error_msg"] = job.error_msg if job.status == Job.Status.ERROR else ""
    return body


def _action(action: str) -> str:
    if action not in ACTIONS:
        raise InvalidParam("Unsupported annotation reply action; use enable or disable.")
    return action


def embedding_model_check(*, app: App, provider: str, model: str) -> tuple[str, str]:
    """The provider and model, checked to be a text-embedding model the workspace can call:
    ``provider_not_initialize`` for a provider that is unknown or not set up,
    ``invalid_param`` for a model it does not offer."""
    name = provider_name(provider) or ""
    try:
        provider_credentials_get(workspace=app.workspace, provider_name=name)
    except NotFound as exc:
        raise ProviderNotInitialized(f"Provider {name or provider!r} is not available.") from exc
    _, name, model = default_model_check(
        workspace=app.workspace, model_type="text-embedding", provider_name=name, model=model
    )
    return name, model


def _job_start(app: App, action: str, **fields: Any) -> AnnotationReplyJob:
    jobs = Job.objects.for_workspace(app.workspace_id).filter(app=app)
    now = timezone.now()
    running = jobs.filter(
        action=action,
        status__in=[Job.Status.WAITING, Job.Status.PROCESSING],
        updated_at__gte=now - timedelta(seconds=JOB_DEDUP_SECONDS),
    ).first()
    if running is not None:
        return running  # as in Dify, a second request joins the job under way
    jobs.filter(updated_at__lt=now - timedelta(days=JOB_KEEP_DAYS)).delete()
    job = Job.objects.create(workspace_id=app.workspace_id, app=app, action=action, **fields)
    tasks.queue(tasks.annotation_reply_job, str(job.pk))
    job.refresh_from_db(fields=["status", "error_msg"])  # in-process: finished already
    return job


def annotation_reply_enable(
    *, app: App, score_threshold: float, embedding_provider_name: str, embedding_model_name: str
) -> AnnotationReplyJob:
    """Start the job that embeds every annotation with this model and switches reply on
    (again, with a new threshold or model, when it is on already)."""
    provider, model = embedding_model_check(
        app=app, provider=embedding_provider_name, model=embedding_model_name
    )
    return _job_start(
        app, Job.Action.ENABLE, score_threshold=score_threshold,
        embedding_provider=provider, embedding_model=model,
    )  # fmt: skip


def annotation_reply_disable(*, app: App) -> AnnotationReplyJob:
    """Start the job that switches reply off and drops the embeddings (a no-op success
    when it is off)."""
    return _job_start(app, Job.Action.DISABLE)


def annotation_reply_action(*, app: App, action: str, **settings: Any) -> AnnotationReplyJob:
    if _action(action) == Job.Action.ENABLE:
        return annotation_reply_enable(app=app, **settings)
    return annotation_reply_disable(app=app)


def annotation_reply_job_get(*, app: App, action: str, job_id: uuid.UUID) -> AnnotationReplyJob:
    """The app's job of this action, or 400 ``invalid_param`` (Dify: "The job does not
    exist."); jobs are kept a day."""
    job = (
        Job.objects.for_workspace(app.workspace_id)
        .filter(pk=job_id, app=app, action=_action(action))
        .first()
    )
    if job is None:
        raise InvalidParam("The job does not exist.")
    return job
