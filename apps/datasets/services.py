"""Writes of the knowledge bases: datasets and documents (segments and metadata live in
``segment_services`` and are re-exported here). Each service owns its transaction; indexing
is queued after it (Celery; in-process without Redis)."""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.core.errors import AppError, InvalidParam
from apps.datasets import stores
from apps.datasets.indexing import RUNNING
from apps.datasets.models import Dataset, Document
from apps.datasets.rag.process_rule import process_rule_settings
from apps.datasets.segment_services import (  # noqa: F401  (re-exported service names)
    document_metadata_set,
    metadata_field_create,
    metadata_field_delete,
    metadata_field_update,
    segment_create,
    segment_delete,
    segment_update,
)
from apps.datasets.tasks import queue_indexing
from apps.providers.services import default_model_get
from apps.tenants.models import Workspace
from apps.workflows.engine.extract import UnsupportedFileType, extension_for

S = Document.Status
PERMISSIONS = ("only_me", "all_team_members", "partial_members")
TECHNIQUES = ("high_quality", "economy")
UPDATABLE = {
    "name", "description", "indexing_technique", "permission", "embedding_model_provider",
    "embedding_model", "retrieval_model", "built_in_field_enabled",
}  # fmt: skip
DEFAULT_RETRIEVAL_MODEL: dict[str, Any] = {
    "search_method": "semantic_search", "reranking_enable": False,
    "reranking_mode": None, "reranking_model": {"reranking_provider_name": "",
    "reranking_model_name": ""}, "weights": None, "top_k": 4,
    "score_threshold_enabled": False, "score_threshold": None,
}  # fmt: skip


def _no_embedding_model() -> AppError:
    return AppError(
        "No Embedding Model available. Please configure a valid provider in the Settings -> "
        "Model Provider.",
        code="provider_not_initialize",
        status=400,
    )


def _duplicate_name() -> AppError:
    return AppError("Dataset name already exists.", code="dataset_name_duplicate", status=409)


def _embedding_model(
    workspace: Workspace, provider: str | None, model: str | None
) -> tuple[str, str] | None:
    if provider and model:
        return provider, model
    default = default_model_get(workspace=workspace, model_type="text-embedding")
    return (default.provider, default.model) if default else None


# -- datasets ----------------------------------------------------------------------------------
def dataset_create(
    *, workspace: Workspace, name: str, description: str = "",
    indexing_technique: str | None = "high_quality", permission: str = "only_me",
    embedding_model_provider: str | None = None, embedding_model: str | None = None,
    retrieval_model: dict | None = None, created_by: Any = None,
) -> Dataset:  # fmt: skip
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise InvalidParam("Name must be between 1 to 40 characters.")
    if permission not in PERMISSIONS:
        raise InvalidParam(f"permission must be one of {', '.join(PERMISSIONS)}")
    model = _embedding_model(workspace, embedding_model_provider, embedding_model)
    if indexing_technique is None:  # Dify allows it: decided here by what is configured
        indexing_technique = "high_quality" if model else "economy"
    if indexing_technique not in TECHNIQUES:
        raise InvalidParam("indexing_technique must be high_quality or economy")
    if indexing_technique == "high_quality" and model is None:
        raise _no_embedding_model()
    if Dataset.objects.for_workspace(workspace).filter(name=name).exists():
        raise _duplicate_name()
    provider_name, model_name = model or ("", "")
    try:
        with transaction.atomic():
            return Dataset.objects.create(
                workspace=workspace, name=name, description=description or "",
                indexing_technique=indexing_technique, permission=permission,
                embedding_model_provider=provider_name, embedding_model=model_name,
                retrieval_model=retrieval_model or dict(DEFAULT_RETRIEVAL_MODEL),
                created_by=created_by if getattr(created_by, "pk", None) else None,
            )  # fmt: skip
    except IntegrityError as exc:
        raise _duplicate_name() from exc


def dataset_update(*, dataset: Dataset, **fields: Any) -> Dataset:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise InvalidParam(f"unknown dataset field(s): {', '.join(sorted(unknown))}")
    fields = {k: v for k, v in fields.items() if v is not None}
    if "name" in fields:
        fields["name"] = str(fields["name"]).strip()
        if not fields["name"] or len(fields["name"]) > 40:
            raise InvalidParam("Name must be between 1 to 40 characters.")
        others = Dataset.objects.for_workspace(dataset.workspace_id).exclude(pk=dataset.pk)
        if others.filter(name=fields["name"]).exists():
            raise _duplicate_name()
    if fields.get("permission", dataset.permission) not in PERMISSIONS:
        raise InvalidParam(f"permission must be one of {', '.join(PERMISSIONS)}")
    technique = fields.get("indexing_technique", dataset.indexing_technique)
    if technique not in TECHNIQUES:
        raise InvalidParam("indexing_technique must be high_quality or economy")
    before = (dataset.indexing_technique, dataset.embedding_model_provider, dataset.embedding_model)
    for key, value in fields.items():
        setattr(dataset, key, value)
    if technique == "high_quality" and not dataset.embedding_model:
        model = _embedding_model(dataset.workspace, None, None)
        if model is None:
            raise _no_embedding_model()
        dataset.embedding_model_provider, dataset.embedding_model = model
    changed = before != (technique, dataset.embedding_model_provider, dataset.embedding_model)
    with transaction.atomic():
        if changed and before[1:] != (dataset.embedding_model_provider, dataset.embedding_model):
            dataset.embedding_dimensions = None  # a new model: new vectors, new index
            stores.drop_vector_index(dataset_id=dataset.pk)
        dataset.save()
        requeue = []
        if changed:
            requeue = list(
                dataset.documents.exclude(indexing_status__in=RUNNING).values_list("pk", flat=True)
            )
            _reset(dataset.documents.filter(pk__in=requeue))
    queue_indexing(requeue)
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    files = [d.source_file for d in dataset.documents.exclude(source_file="")]
    with transaction.atomic():
        stores.drop_vector_index(dataset_id=dataset.pk)
        dataset.delete()
    for file in files:
        file.delete(save=False)


# -- documents ---------------------------------------------------------------------------------
def new_batch() -> str:
    return time.strftime("%Y%m%d%H%M%S") + f"{random.randint(0, 999999):06d}"


def _process_rule(process_rule: dict | None) -> tuple[dict, bool]:
    try:
        split = process_rule_settings(process_rule or None)
    except ValueError as exc:
        raise InvalidParam(str(exc)) from exc
    return split.as_process_rule(), split.mode == "hierarchical"


def _new_document(
    dataset: Dataset, *, name: str, process_rule: dict | None, doc_form: str | None,
    batch: str | None, created_from: str, created_by: Any, **fields: Any,
) -> Document:  # fmt: skip
    name = (name or "").strip()
    if not name:
        raise InvalidParam("name is required")
    content = fields.pop("_content", None)
    rule, hierarchical = _process_rule(process_rule)
    form = "hierarchical_model" if hierarchical else (doc_form or dataset.doc_form)
    if form not in Dataset.DocForm.values:
        raise InvalidParam(f"doc_form must be one of {', '.join(Dataset.DocForm.values)}")
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        has_documents = locked.documents.exists()
        if has_documents and form != locked.doc_form:
            raise InvalidParam(f"doc_form {form} differs from the dataset's {locked.doc_form}")
        if not has_documents and form != locked.doc_form:
            Dataset.objects.filter(pk=dataset.pk).update(doc_form=form)
            dataset.doc_form = form
        position = (locked.documents.aggregate(m=Max("position"))["m"] or 0) + 1
        document = Document(
            workspace_id=dataset.workspace_id, dataset=dataset, name=name[:255],
            position=position, batch=batch or new_batch(), created_from=created_from,
            process_rule=rule, doc_form=form, heartbeat_at=timezone.now(),
            created_by=created_by if getattr(created_by, "pk", None) else None, **fields,
        )  # fmt: skip
        if content is not None:
            document.source_file.save(content[0], ContentFile(content[1]), save=False)
        document.save()
    return document


def document_create_from_text(
    *, dataset: Dataset, name: str, text: str, process_rule: dict | None = None,
    doc_form: str | None = None, doc_language: str = "", created_from: str = "api",
    created_by: Any = None, batch: str | None = None,
) -> Document:  # fmt: skip
    if not text or not text.strip():
        raise InvalidParam("text is required")
    data = text.encode()
    document = _new_document(
        dataset, name=name, process_rule=process_rule, doc_form=doc_form, batch=batch,
        created_from=created_from, created_by=created_by, doc_language=doc_language or "",
        data_source_type="upload_file", file_extension="txt", mime_type="text/plain",
        file_size=len(data), content_hash=hashlib.sha256(data).hexdigest(),
        _content=(f"{(name or 'text').strip()[:200]}.txt", data),
    )  # fmt: skip
    queue_indexing([document.pk])
    return document


def check_upload(filename: str, content: bytes | None, mime_type: str = "") -> str:
    """The extractor key of an upload, or Dify's error (no file, too large, unsupported)."""
    if not filename or content is None:
        raise AppError("No file uploaded.", code="no_file_uploaded", status=400)
    limit = int(getattr(settings, "DATASET_UPLOAD_MAX_BYTES", 15 * 1024 * 1024))
    if len(content) > limit:
        raise AppError(
            f"File size exceeded. {len(content)} > {limit} bytes", code="file_too_large", status=413
        )
    if not content:
        raise AppError("The file is empty.", code="empty_file", status=400)
    extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
    try:
        # a named extension decides (Dify rejects by extension); the MIME type only helps
        # when the name has none
        return extension_for(extension=extension, mime_type="" if extension else mime_type)
    except UnsupportedFileType as exc:
        raise AppError(
            f"File type not allowed: {exc.extension}", code="unsupported_file_type", status=415
        ) from exc


def document_create_from_file(
    *, dataset: Dataset, filename: str, content: bytes, mime_type: str = "",
    process_rule: dict | None = None, doc_form: str | None = None, created_from: str = "api",
    created_by: Any = None, batch: str | None = None,
) -> Document:  # fmt: skip
    kind = check_upload(filename, content, mime_type)
    document = _new_document(
        dataset, name=filename, process_rule=process_rule, doc_form=doc_form, batch=batch,
        created_from=created_from, created_by=created_by, data_source_type="upload_file",
        file_extension=kind, mime_type=mime_type or "", file_size=len(content),
        content_hash=hashlib.sha256(content).hexdigest(), _content=(filename, content),
    )  # fmt: skip
    queue_indexing([document.pk])
    return document


def document_create_from_url(
    *, dataset: Dataset, url: str, name: str | None = None, process_rule: dict | None = None,
    doc_form: str | None = None, created_from: str = "api", created_by: Any = None,
    batch: str | None = None,
) -> Document:  # fmt: skip
    if not url or not url.lower().startswith(("http://", "https://")):
        raise InvalidParam("url must be an http or https URL")
    document = _new_document(
        dataset, name=name or url[:255], process_rule=process_rule, doc_form=doc_form,
        batch=batch, created_from=created_from, created_by=created_by,
        data_source_type="website_crawl", source_url=url,
    )  # fmt: skip
    queue_indexing([document.pk])
    return document


def _check_not_running(document: Document) -> None:
    document.refresh_from_db(fields=["indexing_status", "is_paused"])
    if document.indexing_status in (S.WAITING, *RUNNING) and not document.is_paused:
        raise AppError(
            "The document is being processed and cannot be edited.",
            code="document_indexing", status=400,
        )  # fmt: skip


def _reset(queryset: Any) -> int:
    now = timezone.now()
    return queryset.update(
        indexing_status=S.WAITING, is_paused=False, paused_at=None, error="",
        indexing_attempts=0, heartbeat_at=now, updated_at=now,
    )  # fmt: skip


def _requeue(document: Document) -> Document:
    _reset(Document.objects.filter(pk=document.pk))
    queue_indexing([document.pk])
    document.refresh_from_db()
    return document


def document_update_text(
    *, document: Document, name: str | None = None, text: str | None = None,
    process_rule: dict | None = None,
) -> Document:  # fmt: skip
    _check_not_running(document)
    if name is not None and name.strip():
        document.name = name.strip()[:255]
    if process_rule is not None:
        document.process_rule, _ = _process_rule(process_rule)
    if text is not None:
        if not text.strip():
            raise InvalidParam("text is required")
        _replace_file(document, f"{document.name[:200]}.txt", text.encode(), "txt", "text/plain")
    document.save()
    return _requeue(document) if text is not None or process_rule is not None else document


def document_update_file(
    *, document: Document, filename: str, content: bytes, mime_type: str = "",
    process_rule: dict | None = None,
) -> Document:  # fmt: skip
    _check_not_running(document)
    kind = check_upload(filename, content, mime_type)
    if process_rule is not None:
        document.process_rule, _ = _process_rule(process_rule)
    document.name = filename[:255]
    _replace_file(document, filename, content, kind, mime_type)
    document.save()
    return _requeue(document)


def _replace_file(document: Document, filename: str, data: bytes, kind: str, mime: str) -> None:
    old = document.source_file.name if document.source_file else ""
    document.source_file.save(filename, ContentFile(data), save=False)
    if old:
        document.source_file.storage.delete(old)
    document.file_extension, document.mime_type, document.file_size = kind, mime, len(data)
    document.content_hash = hashlib.sha256(data).hexdigest()
    document.data_source_type, document.source_url = "upload_file", ""


def document_delete(*, document: Document) -> None:
    file = document.source_file if document.source_file else None
    document.delete()
    if file is not None and file.name:
        file.storage.delete(file.name)


def document_pause(*, document: Document) -> Document:
    document.refresh_from_db()
    if document.indexing_status not in (S.WAITING, *RUNNING):
        raise AppError("The document is not being indexed.", code="document_indexing", status=400)
    status = S.PAUSED if document.indexing_status == S.WAITING else document.indexing_status
    Document.objects.filter(pk=document.pk).update(
        is_paused=True, paused_at=timezone.now(), indexing_status=status
    )
    document.refresh_from_db()
    return document


def document_resume(*, document: Document) -> Document:
    document.refresh_from_db()
    if not document.is_paused and document.indexing_status != S.PAUSED:
        raise AppError("The document is not paused.", code="document_indexing", status=400)
    return _requeue(document)


def document_retry(*, document: Document) -> Document:
    """Re-queue an error or paused document (a completed one is left as it is)."""
    document.refresh_from_db()
    if document.indexing_status in (S.ERROR, S.PAUSED) or document.is_paused:
        return _requeue(document)
    return document


def document_reindex(*, document: Document) -> Document:
    """Index the document again (unchanged chunks are not embedded again)."""
    _check_not_running(document)
    return _requeue(document)


DOCUMENT_STATUS_CHANGES = {
    "enable": {"enabled": True},
    "disable": {"enabled": False},
    "archive": {"archived": True},
    "un_archive": {"archived": False},
}


def documents_status_set(*, dataset: Dataset, documents: list[Document], action: str) -> None:
    """Enable, disable, archive or un-archive documents (segments stay; retrieval skips
    disabled and archived documents)."""
    changes = DOCUMENT_STATUS_CHANGES.get(action)
    if changes is None:
        raise AppError(f"Invalid action: {action}.", code="invalid_action", status=400)
    if action in ("enable", "disable"):
        for document in documents:
            if document.indexing_status != Document.Status.COMPLETED:
                raise AppError(
                    f"Document {document.id} is not completed.", code="invalid_action", status=400
                )
    with transaction.atomic():
        Document.objects.for_workspace(dataset.workspace_id).filter(
            dataset=dataset, pk__in=[d.pk for d in documents]
        ).update(**changes, updated_at=timezone.now())
