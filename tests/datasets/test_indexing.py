"""The indexing pipeline: statuses and stats, idempotent re-runs, crash + stale re-queue,
pause/resume, corrupt files, economy and parent-child datasets, the HNSW index."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.datasets import indexing, services, stores, tasks
from apps.datasets.models import ChildChunk, Document, Segment
from apps.providers.services import WorkspaceModelRuntime
from tests.datasets.kb_support import embedded_workspace, make_dataset

pytestmark = pytest.mark.django_db

PARAGRAPHS = [
    f"Paragraph {i} tells about the number {i} and its friend {i + 1}." for i in range(150)
]
RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
    },
}


class Crash(BaseException):
    """A worker dying mid-task (not an Exception: nothing may catch it)."""


def _doc(dataset, text=None, **kwargs):
    text = text or "\n\n".join(PARAGRAPHS)
    document = services.document_create_from_text(
        dataset=dataset, name="numbers", text=text, process_rule=RULE, **kwargs
    )
    document.refresh_from_db()
    return document


def test_pipeline_completes_with_stats_and_embeddings():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace)
    document = _doc(dataset)
    assert document.indexing_status == "completed" and document.error == ""
    segments = list(document.segments.order_by("position"))
    assert [s.position for s in segments] == list(range(1, 151))
    assert all(s.embedding is not None and s.search_vector for s in segments)
    assert document.tokens == sum(s.tokens for s in segments) > 0
    assert document.word_count == sum(len(s.content) for s in segments)
    assert document.parsing_completed_at and document.splitting_completed_at
    assert document.completed_at and document.indexing_latency > 0 and document.heartbeat_at
    dataset.refresh_from_db()
    assert dataset.embedding_dimensions == 384


def test_rerun_is_idempotent_and_trims_extra_segments(monkeypatch):
    dataset = make_dataset(embedded_workspace())
    document = _doc(dataset)
    ids = set(document.segments.values_list("id", flat=True))
    calls = []
    original = WorkspaceModelRuntime.embed
    monkeypatch.setattr(
        WorkspaceModelRuntime,
        "embed",
        lambda self, texts, **kw: calls.append(1) or original(self, texts, **kw),
    )
    services.document_reindex(document=document)  # unchanged content: nothing re-embedded
    assert calls == [] and set(document.segments.values_list("id", flat=True)) == ids
    services.document_update_text(document=document, text="\n\n".join(PARAGRAPHS[:10]))
    document.refresh_from_db()
    assert document.indexing_status == "completed"
    assert list(document.segments.values_list("position", flat=True).order_by("position")) == list(
        range(1, 11)
    )
    assert Segment.objects.filter(document=document).count() == 10


def test_crashed_worker_is_requeued_and_completes_without_duplicates(monkeypatch):
    dataset = make_dataset(embedded_workspace())
    original = WorkspaceModelRuntime.embed
    calls = {"n": 0}

    def crash_on_second_batch(self, texts, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash("worker killed")
        return original(self, texts, **kwargs)

    monkeypatch.setattr(WorkspaceModelRuntime, "embed", crash_on_second_batch)
    with pytest.raises(Crash):
        _doc(dataset)
    document = Document.objects.get(dataset=dataset)
    assert document.indexing_status == "indexing"  # left running: nothing marked it
    assert document.segments.filter(status="completed").count() == 50  # first batch kept
    tasks.requeue_stale_documents()  # heartbeat still fresh: not touched
    assert Document.objects.get(pk=document.pk).indexing_status == "indexing"

    old = timezone.now() - timedelta(seconds=indexing.stale_seconds() + 5)
    Document.objects.filter(pk=document.pk).update(heartbeat_at=old)
    result = tasks.requeue_stale_documents()
    assert result == {"requeued": 1, "failed": 0}
    document.refresh_from_db()
    assert document.indexing_status == "completed" and document.indexing_attempts == 2
    assert document.segments.count() == 150 == document.segments.filter(status="completed").count()
    assert calls["n"] == 2 + 2  # the resumed run embedded only the 100 missing chunks


def test_stale_document_fails_after_three_attempts():
    dataset = make_dataset(embedded_workspace(), indexing_technique="economy")
    document = _doc(dataset)
    old = timezone.now() - timedelta(hours=1)
    Document.objects.filter(pk=document.pk).update(
        indexing_status="splitting", heartbeat_at=old, indexing_attempts=3
    )
    assert tasks.requeue_stale_documents() == {"requeued": 0, "failed": 1}
    document.refresh_from_db()
    assert document.indexing_status == "error" and "3 attempts" in document.error


def test_pause_stops_at_batch_boundary_and_resume_finishes(monkeypatch):
    dataset = make_dataset(embedded_workspace())
    original = WorkspaceModelRuntime.embed

    def pause_during_first_batch(self, texts, **kwargs):
        Document.objects.filter(dataset=dataset).update(is_paused=True)  # the API's pause
        return original(self, texts, **kwargs)

    monkeypatch.setattr(WorkspaceModelRuntime, "embed", pause_during_first_batch)
    document = _doc(dataset)
    assert document.indexing_status == "paused" and document.is_paused
    assert document.segments.filter(status="completed").count() == 50  # 150 = 3 x 50
    monkeypatch.setattr(WorkspaceModelRuntime, "embed", original)
    document = services.document_resume(document=document)
    assert document.indexing_status == "completed" and not document.is_paused
    assert document.segments.count() == 150


def test_pause_and_retry_services():
    dataset = make_dataset(embedded_workspace(), indexing_technique="economy")
    document = _doc(dataset)
    with pytest.raises(Exception) as info:
        services.document_pause(document=document)
    assert info.value.code == "document_indexing"
    Document.objects.filter(pk=document.pk).update(indexing_status="error", error="boom")
    document = services.document_retry(document=document)
    assert document.indexing_status == "completed" and document.error == ""


def test_corrupt_pdf_ends_in_error_without_segments():
    dataset = make_dataset(embedded_workspace())
    document = services.document_create_from_file(
        dataset=dataset, filename="broken.pdf", content=b"%PDF-1.4 this is not a pdf"
    )
    document.refresh_from_db()
    assert document.indexing_status == "error"
    assert "PDF" in document.error and document.segments.count() == 0


def test_transient_provider_errors_retry_then_fail(monkeypatch):
    from apps.core.errors import AppError

    dataset = make_dataset(embedded_workspace())
    calls = []

    def rate_limited(self, texts, **kwargs):
        calls.append(1)
        raise AppError("slow down", code="rate_limit_error", status=429)

    monkeypatch.setattr(WorkspaceModelRuntime, "embed", rate_limited)
    document = _doc(dataset, text="one short text")
    assert len(calls) == 4  # first try + 3 retries
    assert document.indexing_status == "error" and "slow down" in document.error


def test_upload_validation_errors():
    dataset = make_dataset(embedded_workspace())
    for filename, content, code in [
        ("a.exe", b"MZ", "unsupported_file_type"),
        ("", b"x", "no_file_uploaded"),
        ("a.txt", b"x" * (15 * 1024 * 1024 + 1), "file_too_large"),
    ]:
        with pytest.raises(Exception) as info:
            services.document_create_from_file(dataset=dataset, filename=filename, content=content)
        assert info.value.code == code
    assert not Document.objects.filter(dataset=dataset).exists()


def test_economy_dataset_has_no_embeddings():
    dataset = make_dataset(embedded_workspace(), indexing_technique="economy")
    document = _doc(dataset)
    assert document.indexing_status == "completed"
    assert not document.segments.filter(embedding__isnull=False).exists()
    assert not document.segments.filter(search_vector__isnull=True).exists()


def test_parent_child_document_stores_embedded_children():
    dataset = make_dataset(embedded_workspace())
    text = "Alpha line one.\nAlpha line two.\n\nBeta line one.\nBeta line two."
    rule = {
        "mode": "hierarchical",
        "rules": {
            "pre_processing_rules": [],
            "segmentation": {"separator": "\n\n", "max_tokens": 200, "chunk_overlap": 0},
            "parent_mode": "paragraph",
            "subchunk_segmentation": {"separator": "\n", "max_tokens": 50, "chunk_overlap": 0},
        },
    }
    document = services.document_create_from_text(
        dataset=dataset, name="pc", text=text, process_rule=rule
    )
    document.refresh_from_db()
    dataset.refresh_from_db()
    assert document.indexing_status == "completed" and dataset.doc_form == "hierarchical_model"
    assert document.segments.count() == 2
    children = ChildChunk.objects.filter(document=document)
    assert children.count() == 4 and not children.filter(embedding__isnull=True).exists()


def test_small_dataset_has_no_hnsw_index_until_it_reaches_the_threshold(settings):
    settings.DATASET_VECTOR_INDEX_MIN_ROWS = 12
    dataset = make_dataset(embedded_workspace())
    _doc(dataset, text="\n\n".join(PARAGRAPHS[:5]))
    assert not stores.vector_index_exists(dataset_id=dataset.pk)
    services.document_create_from_text(
        dataset=dataset, name="more", text="\n\n".join(PARAGRAPHS[5:12]), process_rule=RULE
    )
    assert stores.vector_index_exists(dataset_id=dataset.pk)  # 12 embedded rows now


def test_semantic_query_uses_the_datasets_hnsw_index(settings):
    settings.DATASET_VECTOR_INDEX_MIN_ROWS = 0
    dataset = make_dataset(embedded_workspace())
    _doc(dataset, text="\n\n".join(PARAGRAPHS[:5]))
    sql, params = stores.semantic_sql(
        dataset_id=dataset.pk, dimensions=384, hierarchical=False, top_k=3
    )
    vector = stores.vector_literal([0.1] * 384)
    params = [vector if p == "VECTOR" else p for p in params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {stores.index_names(dataset.pk)[0]}" in plan, plan


def test_batches_are_even_sorted_by_length_and_at_most_the_batch_size():
    chunks = [indexing.Chunk(i, "x" * (i % 7 + 1)) for i in range(1, 151)]
    batches = list(indexing._batches(chunks, hierarchical=False))
    assert [len(b) for b in batches] == [50, 50, 50]
    lengths = [len(c.content) for b in batches for c in b]
    assert lengths == sorted(lengths)
    assert sorted(c.position for b in batches for c in b) == list(range(1, 151))
    assert [len(b) for b in indexing._batches(chunks[:64], hierarchical=False)] == [64]
    assert [len(b) for b in indexing._batches(chunks[:65], hierarchical=False)] == [32, 33]


def test_periodic_task_registration_is_idempotent():
    from django_celery_beat.models import PeriodicTask

    tasks.ensure_periodic_tasks()
    tasks.ensure_periodic_tasks()
    task = PeriodicTask.objects.get(task=tasks.REQUEUE_TASK)
    assert task.interval.every == 60 and task.enabled


def test_the_search_scope_finds_excluded_documents_by_index(settings):
    """The k-NN scope's "documents to skip" subquery can use the partial index (no read of
    every document of the dataset per query)."""
    settings.DATASET_VECTOR_INDEX_MIN_ROWS = 0
    dataset = make_dataset(embedded_workspace())
    _doc(dataset, text="\n\n".join(PARAGRAPHS[:3]))
    sql, params = stores.semantic_sql(
        dataset_id=dataset.pk, dimensions=384, hierarchical=False, top_k=3
    )
    vector = stores.vector_literal([0.1] * 384)
    params = [vector if p == "VECTOR" else p for p in params]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "document_unsearchable" in plan, plan
