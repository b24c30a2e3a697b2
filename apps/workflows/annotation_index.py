"""Embeddings of annotations and the annotation reply search (pgvector, cosine).

An annotation's question is embedded with the model of its app's reply setting; the
provider and model are kept beside the vector, and search compares only vectors of the
setting's model (and dimension). ``annotation_reply_find`` embeds a query and takes the
nearest annotation: a hit when ``1 - cosine distance`` ≥ the setting's threshold.
The setting is read on every chat message: each process keeps it (or its absence) for
``REPLY_CACHE_SECONDS``; the jobs drop it in their process, other processes see a change
within that time. Writers read it fresh.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Func, IntegerField, Q
from django.db.models.signals import post_delete, post_save
from pgvector.django import CosineDistance

from apps.core.errors import AppError
from apps.core.ttl_cache import TTLCache
from apps.providers.services import WorkspaceModelRuntime
from apps.workflows.models import (
    Annotation,
    AnnotationHitHistory,
    AnnotationReplyJob,
    AnnotationReplySetting,
    App,
    EndUser,
    Message,
)

logger = logging.getLogger(__name__)
EMBED_BATCH = 64
REPLY_CACHE_SECONDS = 2.0
Model = tuple[str, str]  # (embedding provider, embedding model)
_OFF = "off"
_settings = TTLCache(REPLY_CACHE_SECONDS, max_entries=10_000)


@dataclass(frozen=True)
class ReplySetting:
    """What a chat needs of an app's annotation reply setting (cached)."""

    id: uuid.UUID
    score_threshold: float
    embedding_provider: str
    embedding_model: str


@dataclass(frozen=True)
class AnnotationHit:
    annotation_id: uuid.UUID
    question: str
    answer: str
    score: float
    account_id: str | None
    account_name: str

    def reply_metadata(self) -> dict[str, Any]:
        """Dify's ``metadata.annotation_reply`` of an answer given from an annotation."""
        return {
            "id": str(self.annotation_id),
            "account": {"id": self.account_id, "name": self.account_name},
        }


def account_name(user: Any) -> str:
    """The name Dify shows for an account: the full name, else the e-mail's local part."""
    if user is None:
        return "Dify user"
    full = (user.get_full_name() or "").strip()
    return full or (user.email or user.get_username()).split("@")[0] or "Dify user"


def reply_setting(app: App, *, fresh: bool = False) -> ReplySetting | None:
    """The app's annotation reply setting when it is on (``fresh``: not from the cache)."""
    if not fresh:
        cached = _settings.get(app.pk)
        if cached is not None:
            return None if cached == _OFF else cached  # type: ignore[no-any-return]
    generation = _settings.generation
    row = (
        AnnotationReplySetting.objects.for_workspace(app.workspace_id)
        .filter(app=app, enabled=True)
        .first()
    )
    found = None
    if row is not None:
        found = ReplySetting(row.pk, row.score_threshold, *model_of(row))
    _settings.put(app.pk, found or _OFF, generation)
    return found


def reply_setting_changed(app_id: object) -> None:
    """Drop this process's cached setting of the app (after writing it)."""
    _settings.discard(app_id)


def _setting_saved(instance: AnnotationReplySetting, **kwargs: Any) -> None:
    reply_setting_changed(instance.app_id)


post_save.connect(_setting_saved, sender=AnnotationReplySetting, dispatch_uid="reply-setting")
post_delete.connect(_setting_saved, sender=AnnotationReplySetting, dispatch_uid="reply-setting")


def annotation_reply_config(app: App) -> dict[str, Any]:
    """The app's ``annotation_reply`` feature as Dify reports it (/v1/parameters)."""
    setting = reply_setting(app)
    if setting is None:
        return {"enabled": False}
    return {
        "id": str(setting.id),
        "enabled": True,
        "score_threshold": setting.score_threshold,
        "embedding_model": {
            "embedding_provider_name": setting.embedding_provider,
            "embedding_model_name": setting.embedding_model,
        },
    }


def _embed(app: App, model: Model, texts: list[str]) -> list[list[float]]:
    result = WorkspaceModelRuntime(app.workspace).embed(texts, provider=model[0], model=model[1])
    if len(result.vectors) != len(texts):
        raise AppError("the embedding model returned a wrong number of vectors")
    return result.vectors


def model_of(
    setting: ReplySetting | AnnotationReplySetting | AnnotationReplyJob,
) -> Model:
    return setting.embedding_provider, setting.embedding_model


def _of_model(model: Model) -> Q:
    return Q(embedding_provider=model[0], embedding_model=model[1], embedding__isnull=False)


def _write(pk: uuid.UUID, question: str, model: Model, vector: list[float]) -> int:
    """Store an embedding unless the question changed since it was read."""
    return Annotation.objects.filter(pk=pk, question=question).update(
        embedding=vector, embedding_provider=model[0], embedding_model=model[1]
    )


def embed_missing(app: App, model: Model) -> int:
    """Embed the app's annotations that have no embedding of the setting's model (or an
    outdated one); returns how many were written. An annotation whose question changes
    meanwhile is skipped here (the update queues its own embedding)."""
    pending = (
        Annotation.objects.for_workspace(app.workspace_id)
        .filter(app=app)
        .exclude(_of_model(model))
        .order_by("created_at", "id")
    )
    seen: set[uuid.UUID] = set()
    written = 0
    while True:
        batch = list(pending.exclude(pk__in=seen).values_list("pk", "question")[:EMBED_BATCH])
        if not batch:
            return written
        vectors = _embed(app, model, [question for _, question in batch])
        for (pk, question), vector in zip(batch, vectors, strict=True):
            seen.add(pk)
            written += _write(pk, question, model, vector)


def annotation_embed(annotation_id: uuid.UUID | str) -> bool:
    """Embed one annotation's question with its app's reply model, if reply is on (the
    annotation task). Checks the setting again after writing: a model switched meanwhile
    is embedded with again. Returns whether an embedding was written."""
    for _ in range(3):
        annotation = Annotation.objects.select_related("app__workspace").filter(pk=annotation_id)
        found = annotation.first()
        setting = reply_setting(found.app, fresh=True) if found is not None else None
        if found is None or setting is None:
            return False
        model = model_of(setting)
        if (
            found.embedding is not None
            and (found.embedding_provider, found.embedding_model) == model
        ):
            return False
        [vector] = _embed(found.app, model, [found.question])
        _write(found.pk, found.question, model, vector)
        now = reply_setting(found.app, fresh=True)
        if now is None or model_of(now) == model:
            return True
    return True


def annotation_reply_find(*, app: App, query: str) -> AnnotationHit | None:
    """The annotation that answers ``query``, if annotation reply is on and one is close
    enough. Never raises: a failed embedding call means no hit (the model answers), as in
    Dify. The hit is recorded with ``annotation_hit_record`` once the message is stored."""
    setting = reply_setting(app)
    if setting is None or not query:
        return None
    try:
        [vector] = _embed(app, model_of(setting), [query])
    except Exception as exc:  # noqa: BLE001 - annotation reply must never break a chat
        logger.warning("annotation reply: embedding the query failed: %s", exc)
        return None
    nearest = (
        Annotation.objects.for_workspace(app.workspace_id)
        .filter(app=app)
        .filter(_of_model(model_of(setting)))
        .annotate(dims=Func(F("embedding"), function="vector_dims", output_field=IntegerField()))
        .filter(dims=len(vector))
        .annotate(distance=CosineDistance("embedding", vector))
        .select_related("created_by")
        .order_by("distance")
        .first()
    )
    if nearest is None:
        return None
    score = 1.0 - float(nearest.distance)  # type: ignore[attr-defined]
    if score < setting.score_threshold:
        return None
    user = nearest.created_by
    return AnnotationHit(
        annotation_id=nearest.pk,
        question=nearest.question,
        answer=nearest.content,
        score=score,
        account_id=str(user.pk) if user is not None else None,
        account_name=account_name(user),
    )


def annotation_hit_record(hit: AnnotationHit, *, message: Message, end_user: EndUser) -> None:
    """Count the hit and keep it in the history, linked to the stored message."""
    with transaction.atomic():
        found = Annotation.objects.filter(pk=hit.annotation_id).update(hit_count=F("hit_count") + 1)
        if not found:
            return  # deleted meanwhile
        AnnotationHitHistory.objects.create(
            workspace_id=message.workspace_id, app_id=message.app_id,
            annotation_id=hit.annotation_id, message=message, end_user=end_user,
            question=message.query, source="api", score=hit.score,
            annotation_question=hit.question, annotation_content=hit.answer,
        )  # fmt: skip
