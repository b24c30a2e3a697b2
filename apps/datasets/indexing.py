"""The indexing pipeline of one document: waiting → parsing → cleaning → splitting →
indexing → completed (or error / paused).

Idempotent and resumable: segments are upserted by (document, position) one batch per
statement (transaction), a run first deletes the segments beyond its new count, and a
segment whose content hash is unchanged and already completed is not embedded again — so a
re-delivered, retried or re-queued run never duplicates chunks and a crashed run resumes
cheaply. ``heartbeat_at`` moves at every stage and batch; a paused document stops at the
next batch boundary.

Cheap around the embedder: chunks are embedded in batches of similar length (less
padding), each batch is written with one statement (binary vectors, ``search_vector``
computed in the same INSERT), the pause check and the heartbeat are one UPDATE per batch,
and the dataset's HNSW index is only built (once) when the dataset is large enough for it
to matter (``stores.ensure_vector_index_quietly``).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core.errors import AppError
from apps.datasets import stores
from apps.datasets.models import Dataset, Document, Segment
from apps.datasets.rag.cleaning import clean_text
from apps.datasets.rag.process_rule import process_rule_settings
from apps.datasets.rag.splitting import split_general, split_parent_child
from apps.datasets.rag.tokens import count_tokens
from apps.datasets.sources import SourceError, document_text
from apps.providers.services import WorkspaceModelRuntime

logger = logging.getLogger(__name__)

BATCH_SIZE = 64
S = Document.Status
RUNNING = (S.PARSING, S.CLEANING, S.SPLITTING, S.INDEXING)
TRANSIENT_CODES = frozenset(
    {"rate_limit_error", "invoke_connection_error", "invoke_server_unavailable"}
)


class TransientIndexingError(Exception):
    """Worth retrying (rate limit, connection, provider unavailable)."""


def stale_seconds() -> int:
    return int(getattr(settings, "DATASET_INDEXING_STALE_SECONDS", 300))


@dataclass
class Chunk:
    position: int
    content: str
    children: list[str] = field(default_factory=list)
    salt: str = ""

    @property
    def hash(self) -> str:
        """Content and how it is indexed: a new model or technique re-embeds everything."""
        text = "\x1f".join([self.salt, self.content, *self.children])
        return hashlib.sha256(text.encode()).hexdigest()


def index_salt(dataset: Dataset) -> str:
    if dataset.indexing_technique != "high_quality":
        return dataset.indexing_technique
    return f"{dataset.embedding_model_provider}/{dataset.embedding_model}"


def _touch(document: Document, **fields: object) -> None:
    """Save ``fields`` and a fresh heartbeat (a plain UPDATE: no stale-object overwrite)."""
    fields["heartbeat_at"] = timezone.now()
    fields["updated_at"] = fields["heartbeat_at"]
    Document.objects.filter(pk=document.pk).update(**fields)
    for name, value in fields.items():
        setattr(document, name, value)


def _claim(document_id: uuid.UUID | str) -> Document | None:
    """Take the document for this run, unless another run is alive on it or it is done."""
    with transaction.atomic():
        document = (
            Document.objects.select_for_update().select_related("dataset").filter(pk=document_id)
        ).first()
        if document is None:
            return None
        if document.is_paused:
            if document.indexing_status != S.PAUSED:
                _touch(document, indexing_status=S.PAUSED, paused_at=timezone.now())
            return None
        fresh = document.heartbeat_at and document.heartbeat_at > timezone.now() - timedelta(
            seconds=stale_seconds()
        )
        if document.indexing_status != S.WAITING and not (
            document.indexing_status in RUNNING and not fresh
        ):
            return None  # completed / error / paused, or alive in another worker
        now = timezone.now()
        _touch(
            document, indexing_status=S.PARSING, processing_started_at=now, error="",
            indexing_attempts=document.indexing_attempts + 1,
        )  # fmt: skip
        return document


def run_indexing(document_id: uuid.UUID | str) -> None:
    """Index one document. Expected failures end in status error with the reason; transient
    model errors raise TransientIndexingError (the task retries); a crash (BaseException)
    leaves the document in its running status for the stale-heartbeat re-queue."""
    document = _claim(document_id)
    if document is None:
        return
    try:
        _pipeline(document)
    except TransientIndexingError:
        raise
    except (SourceError, ValueError) as exc:
        mark_error(document.pk, str(exc))
    except AppError as exc:
        if exc.code in TRANSIENT_CODES:
            raise TransientIndexingError(exc.message) from exc
        mark_error(document.pk, exc.message)
    except Exception as exc:
        logger.exception("indexing document %s failed", document.pk)
        mark_error(document.pk, f"internal error: {type(exc).__name__}: {exc}")


def mark_error(document_id: uuid.UUID | str, message: str) -> None:
    now = timezone.now()
    Document.objects.filter(pk=document_id).update(
        indexing_status=S.ERROR, error=message[:2000] or "indexing failed", heartbeat_at=now,
        updated_at=now,
    )  # fmt: skip


def _pipeline(document: Document) -> None:
    dataset = document.dataset
    text = document_text(document)
    _touch(
        document, indexing_status=S.CLEANING, parsing_completed_at=timezone.now(),
        word_count=len(text),
    )  # fmt: skip
    split = process_rule_settings(document.process_rule or None)
    text = clean_text(text, split.pre_processing_rules)
    _touch(document, indexing_status=S.SPLITTING, cleaning_completed_at=timezone.now())
    chunks = plan_chunks(text, document)
    for chunk in chunks:
        chunk.salt = index_salt(dataset)
    if not chunks:
        raise ValueError("the document has no text to index")
    _touch(document, indexing_status=S.INDEXING, splitting_completed_at=timezone.now())
    pending = _write_plan(document, chunks)
    embedder = Embedder(dataset) if dataset.indexing_technique == "high_quality" else None
    for batch in _batches(pending, hierarchical=is_hierarchical(document)):
        if _heartbeat_paused(document):
            _touch(document, indexing_status=S.PAUSED, paused_at=timezone.now())
            return
        _write_batch(document, batch, _embed_batch(document, batch, embedder))
    if embedder is not None and dataset.embedding_dimensions:
        stores.ensure_vector_index_quietly(
            dataset_id=dataset.pk, dimensions=dataset.embedding_dimensions
        )
    tokens = document.segments.aggregate(total=Sum("tokens"))["total"] or 0
    words = sum(len(c.content) for c in chunks)
    now = timezone.now()
    started = document.processing_started_at or now
    _touch(
        document, indexing_status=S.COMPLETED, completed_at=now, tokens=tokens,
        word_count=words, indexing_latency=(now - started).total_seconds(), error="",
    )  # fmt: skip


def _heartbeat_paused(document: Document) -> bool:
    """Move the heartbeat and read the pause flag: one statement per batch."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE datasets_document SET heartbeat_at = %s, updated_at = %s WHERE id = %s "
            "RETURNING is_paused",
            [now, now, document.pk],
        )
        row = cursor.fetchone()
    document.heartbeat_at = document.updated_at = now
    return bool(row and row[0])


def is_hierarchical(document: Document) -> bool:
    mode = (document.process_rule or {}).get("mode")
    return document.doc_form == Dataset.DocForm.HIERARCHICAL or mode == "hierarchical"


def plan_chunks(text: str, document: Document) -> list[Chunk]:
    split = process_rule_settings(document.process_rule or None)
    if is_hierarchical(document):
        parents = split_parent_child(text, **split.parent_child_kwargs())
        return [
            Chunk(i, p.content, [c for c in p.children if c.strip()] or [p.content])
            for i, p in enumerate((p for p in parents if p.content.strip()), start=1)
        ]
    pieces = split_general(text, **split.general_kwargs())
    return [Chunk(i, p) for i, p in enumerate((p for p in pieces if p.strip()), start=1)]


def _write_plan(document: Document, chunks: list[Chunk]) -> list[Chunk]:
    """Drop segments beyond the new count; return the chunks that still need indexing (a
    document without segments yet: one query)."""
    existing = list(document.segments.values_list("position", "index_node_hash", "status"))
    done = {(position, digest) for position, digest, status in existing if status == "completed"}
    pending = [c for c in chunks if (c.position, c.hash) not in done]
    if not existing:
        return pending
    with transaction.atomic():
        if any(position > len(chunks) for position, _, _ in existing):
            document.segments.filter(position__gt=len(chunks)).delete()
        Segment.objects.filter(
            document=document, position__in=[c.position for c in pending]
        ).update(status="indexing")
    return pending


def _batches(chunks: list[Chunk], *, hierarchical: bool) -> Iterator[list[Chunk]]:
    """Groups of chunks with at most BATCH_SIZE texts to embed (children when parent-child),
    by length and of even sizes: a batch is padded to its longest text, so sorting keeps
    short and long texts apart, and 100 chunks go as 50 + 50 rather than 64 + 36 (the first
    batch's longest text is then shorter; measured faster than one call over all of them)."""
    if not hierarchical:
        ordered = sorted(chunks, key=lambda c: len(c.content))
        count = -(-len(ordered) // BATCH_SIZE)
        for i in range(count):
            yield ordered[len(ordered) * i // count : len(ordered) * (i + 1) // count]
        return
    batch: list[Chunk] = []
    size = 0
    for chunk in sorted(chunks, key=lambda c: sum(map(len, c.children))):
        weight = len(chunk.children)
        if batch and size + weight > BATCH_SIZE:
            yield batch
            batch, size = [], 0
        batch.append(chunk)
        size += weight
    if batch:
        yield batch


class Embedder:
    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.runtime = WorkspaceModelRuntime(dataset.workspace)

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            result = self.runtime.embed(
                texts[start : start + BATCH_SIZE],
                provider=self.dataset.embedding_model_provider or None,
                model=self.dataset.embedding_model or None,
            )
            vectors.extend(result.vectors)
        if vectors:
            self._check_dimensions(len(vectors[0]))
        return vectors

    def _check_dimensions(self, dims: int) -> None:
        dataset = self.dataset
        if dataset.embedding_dimensions == dims:
            return
        if dataset.embedding_dimensions is None:
            Dataset.objects.filter(pk=dataset.pk, embedding_dimensions__isnull=True).update(
                embedding_dimensions=dims
            )
            dataset.refresh_from_db(fields=["embedding_dimensions"])
        if dataset.embedding_dimensions != dims:
            raise ValueError(
                f"the embedding model returned {dims} dimensions but the dataset's vectors have "
                f"{dataset.embedding_dimensions}; re-index the dataset after changing its model"
            )


def _embed_batch(
    document: Document, batch: list[Chunk], embedder: Embedder | None
) -> stores.VectorBatch | None:
    hierarchical = is_hierarchical(document)
    texts = [t for c in batch for t in (c.children if hierarchical else [c.content])]
    return stores.VectorBatch(embedder.embed(texts)) if embedder else None


def _write_batch(
    document: Document, batch: list[Chunk], vectors: stores.VectorBatch | None
) -> None:
    """One statement for the segments (embeddings and search vectors included); parent-child
    adds the children's delete + insert, in one transaction with it."""
    rows = [
        stores.SegmentRow(c.position, c.content, count_tokens(c.content), c.hash) for c in batch
    ]
    ids = dict(workspace_id=document.workspace_id, dataset_id=document.dataset_id,
               document_id=document.pk)  # fmt: skip
    if not is_hierarchical(document):
        stores.upsert_segments(**ids, rows=rows, vectors=vectors)
        return
    with transaction.atomic():
        saved = stores.upsert_segments(**ids, rows=rows, vectors=None)
        children = [
            stores.ChildRow(saved[chunk.position], position, content, count_tokens(content))
            for chunk in batch
            for position, content in enumerate(chunk.children, start=1)
        ]
        stores.replace_children(
            **ids, segment_ids=list(saved.values()), rows=children, vectors=vectors
        )
