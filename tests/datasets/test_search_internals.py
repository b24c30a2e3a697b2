"""What makes the knowledge-base paths cheap must not change their answers: full-text
candidate pruning and cached term statistics, hit counts kept off the segment rows, the
one-statement segment writes (binary vectors, search vector in the INSERT)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from django.db import connection

from apps.datasets import fulltext, recording, retrieval, services
from apps.datasets.models import DatasetQuery, Segment, SegmentHit
from apps.providers.services import WorkspaceModelRuntime
from tests.datasets.kb_support import embedded_workspace, make_dataset

pytestmark = pytest.mark.django_db

RULE = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
    },
}
COMMON = ["the", "a", "of", "and", "in", "to", "with"]
RARE = [
    "comet",
    "nebula",
    "quasar",
    "glacier",
    "monsoon",
    "basalt",
    "sonnet",
    "falcon",
    "kiln",
    "tiller",
]


@pytest.fixture(autouse=True)
def _fresh_caches():
    fulltext.clear_caches()
    yield
    fulltext.clear_caches()


def _economy_corpus(paragraphs: int = 120, seed: int = 3):
    """Chunks full of common words, each with a few rare ones (economy: no embeddings)."""
    rng = random.Random(seed)
    dataset = make_dataset(embedded_workspace(), indexing_technique="economy")
    texts = []
    for _ in range(paragraphs):
        words = rng.choices(COMMON, k=12) + rng.sample(RARE, k=rng.randint(0, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    services.document_create_from_text(
        dataset=dataset, name="words", text="\n\n".join(texts), process_rule=RULE
    )
    return dataset


@pytest.mark.parametrize(
    "query",
    [
        "the comet of the nebula",  # rare terms: pruned to their rows, exact
        "a falcon with the kiln and a tiller",
        "the and of",  # only common terms: every matching row is scored
        "sonnet",
        "unknownword the",
    ],
)
def test_pruned_full_text_equals_exhaustive_scoring(query, settings):
    settings.DATASET_FULLTEXT_CANDIDATES = 5  # prune hard
    dataset = _economy_corpus()
    for top_k in (1, 3, 10):
        pruned = fulltext.fulltext_search(dataset_ids=[dataset.pk], query=query, top_k=top_k)
        exact = fulltext.fulltext_search(
            dataset_ids=[dataset.pk], query=query, top_k=top_k, exhaustive=True
        )
        assert [(h.segment_id, round(h.score, 9)) for h in pruned] == [
            (h.segment_id, round(h.score, 9)) for h in exact
        ], (query, top_k)


def test_rare_terms_prune_the_scored_rows(settings):
    settings.DATASET_FULLTEXT_CANDIDATES = 40
    dataset = _economy_corpus()
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        hits = fulltext.fulltext_search(dataset_ids=[dataset.pk], query="the comet", top_k=3)
    ranked = [s for s in statements if "ts_rank_cd" in s]
    assert hits and len(ranked) == 1  # the candidates sufficed: no second, exhaustive pass
    # scored: "the" + "comet"; matched: "comet" only (exhaustive: both); ts_rank_cd: both
    assert ranked[0].count("quote_literal") == 2 + 1 + 2


def test_term_statistics_are_cached_per_dataset_until_the_ttl(settings):
    dataset = _economy_corpus(paragraphs=20)
    query = "the comet"
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    settings.DATASET_FULLTEXT_STATS_TTL = 60
    with connection.execute_wrapper(count):
        fulltext.fulltext_search(dataset_ids=[dataset.pk], query=query, top_k=3)
        fulltext.fulltext_search(dataset_ids=[dataset.pk], query=query, top_k=3)
    assert sum("SELECT (SELECT count(*)" in s for s in statements) == 1
    settings.DATASET_FULLTEXT_STATS_TTL = 0  # off: counted for every query
    statements.clear()
    with connection.execute_wrapper(count):
        fulltext.fulltext_search(dataset_ids=[dataset.pk], query=query, top_k=3)
        fulltext.fulltext_search(dataset_ids=[dataset.pk], query=query, top_k=3)
    assert sum("SELECT (SELECT count(*)" in s for s in statements) == 2


def test_hits_are_counted_off_the_segment_row_and_survive_a_reindex():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace)
    document = services.document_create_from_text(
        dataset=dataset, name="n", text="Alpha beta gamma.\n\nDelta epsilon.", process_rule=RULE
    )
    query = {"search_method": "full_text_search", "top_k": 1}
    for _ in range(3):
        found = retrieval.retrieve(
            workspace=workspace, dataset_ids=[str(dataset.pk)], query="alpha", retrieval_model=query
        )
    segment = Segment.objects.get(pk=found[0].segment.pk)
    assert segment.hit_count == 3 and SegmentHit.objects.get(segment=segment).hit_count == 3
    assert DatasetQuery.objects.filter(dataset=dataset).count() == 3
    services.document_reindex(document=document)
    assert Segment.objects.get(pk=segment.pk).hit_count == 3  # same row, same counter
    services.document_delete(document=document)
    assert not SegmentHit.objects.exists()


def test_unrecorded_retrieval_still_counts_hits():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, indexing_technique="economy")
    services.document_create_from_text(dataset=dataset, name="n", text="Alpha beta gamma.")
    found = retrieval.retrieve(
        workspace=workspace, dataset_ids=[str(dataset.pk)], query="alpha",
        retrieval_model={"search_method": "full_text_search"}, record=False,
    )  # fmt: skip
    assert Segment.objects.get(pk=found[0].segment.pk).hit_count == 1
    assert not DatasetQuery.objects.filter(dataset=dataset).exists()


def test_recording_skips_a_segment_deleted_meanwhile():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, indexing_technique="economy")
    services.document_create_from_text(dataset=dataset, name="n", text="Alpha beta gamma.")
    found = retrieval.retrieve(
        workspace=workspace, dataset_ids=[str(dataset.pk)], query="alpha",
        retrieval_model={"search_method": "full_text_search"},
    )  # fmt: skip
    Segment.objects.filter(pk=found[0].segment.pk).delete()
    recording.record(
        recording.Retrieval(
            workspace_id=str(workspace.pk), query="alpha", source="api", retrieval_model={},
            elapsed=0.01, segment_ids=[str(found[0].segment.pk)], dataset_ids=[str(dataset.pk)],
            result_counts=[1],
        )
    )  # fmt: skip
    assert DatasetQuery.objects.filter(dataset=dataset).count() == 2
    assert not SegmentHit.objects.filter(segment_id=found[0].segment.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_hits_and_queries_are_written_by_the_recorder_thread():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, indexing_technique="economy")
    services.document_create_from_text(dataset=dataset, name="n", text="Alpha beta gamma.")
    for _ in range(5):
        found = retrieval.retrieve(
            workspace=workspace, dataset_ids=[str(dataset.pk)], query="alpha",
            retrieval_model={"search_method": "full_text_search"},
        )  # fmt: skip
    recording.flush()
    assert SegmentHit.objects.get(segment_id=found[0].segment.pk).hit_count == 5
    assert DatasetQuery.objects.filter(dataset=dataset, source="api").count() == 5


def test_segments_store_the_model_vectors_and_their_search_vector():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace)
    texts = ["The kiln fires the celadon bowl.", "A falcon returns to the glove."]
    document = services.document_create_from_text(
        dataset=dataset, name="v", text="\n\n".join(texts), process_rule=RULE
    )
    expected = WorkspaceModelRuntime(workspace).embed(texts).vectors
    segments = list(document.segments.order_by("position"))
    for segment, vector in zip(segments, expected, strict=True):
        assert np.allclose(np.asarray(segment.embedding), vector, atol=1e-6)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM datasets_segment WHERE document_id = %s "
            "AND search_vector = to_tsvector('simple', content)",
            [document.pk],
        )
        assert cursor.fetchone()[0] == 2
