"""Retrieval: semantic, full-text, hybrid; thresholds, metadata filters, parent-child,
multiple datasets, rerank errors, workspace isolation, recorded queries, the engine port."""

from __future__ import annotations

import pytest

from apps.datasets import retrieval, services
from apps.datasets.models import DatasetQuery, Segment
from apps.datasets.retriever_port import DatasetRetrieverPort
from tests.datasets.kb_support import FACTS, QUESTIONS, embedded_workspace, make_dataset

pytestmark = pytest.mark.django_db

DOCS = {kind: text for kind, text in FACTS.items() if kind not in ("html", "csv")}


@pytest.fixture
def corpus():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, "Facts")
    for kind, text in DOCS.items():
        services.document_create_from_text(dataset=dataset, name=f"{kind}.txt", text=text)
    return workspace, dataset


def _top(workspace, dataset_ids, query, **model):
    return retrieval.retrieve(
        workspace=workspace, dataset_ids=[str(i) for i in dataset_ids], query=query,
        retrieval_model={"top_k": 3, **model},
    )  # fmt: skip


@pytest.mark.parametrize("method", ["semantic_search", "full_text_search", "hybrid_search"])
def test_questions_find_their_chunk(corpus, method):
    workspace, dataset = corpus
    for kind in DOCS:
        found = _top(workspace, [dataset.pk], QUESTIONS[kind], search_method=method)
        assert found, (method, kind)
        assert found[0].segment.document.name == f"{kind}.txt", (method, kind)
        assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_score_threshold_top_k_hit_count_and_recorded_query(corpus):
    workspace, dataset = corpus
    found = _top(workspace, [dataset.pk], QUESTIONS["txt"], top_k=1)
    assert len(found) == 1
    assert Segment.objects.get(pk=found[0].segment.pk).hit_count == 1
    none = _top(
        workspace, [dataset.pk], QUESTIONS["txt"], score_threshold_enabled=True,
        score_threshold=0.99,
    )  # fmt: skip
    assert none == []
    query = DatasetQuery.objects.filter(dataset=dataset).first()
    assert query.content == QUESTIONS["txt"] and query.source == "api"


def test_economy_dataset_answers_with_full_text_only():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, "Cheap", indexing_technique="economy")
    for kind, text in DOCS.items():
        services.document_create_from_text(dataset=dataset, name=f"{kind}.txt", text=text)
    for method in ("semantic_search", "hybrid_search", "keyword_search"):
        found = _top(workspace, [dataset.pk], QUESTIONS["md"], search_method=method)
        assert found[0].segment.document.name == "md.txt"


def test_metadata_filter_restricts_documents(corpus):
    workspace, dataset = corpus
    field = services.metadata_field_create(dataset=dataset, name="topic", type="string")
    services.metadata_field_create(dataset=dataset, name="year", type="number")
    for document in dataset.documents.all():
        topic = "sea" if document.name in ("txt.txt", "pdf.txt") else "land"
        services.document_metadata_set(document=document, values={"topic": topic, "year": 2020})
    condition = {"logical_operator": "and", "conditions": [
        {"name": "topic", "comparison_operator": "is", "value": "sea"},
        {"name": "year", "comparison_operator": "≥", "value": 2019}]}  # fmt: skip
    found = retrieval.retrieve(
        workspace=workspace, dataset_ids=[str(dataset.pk)], query=QUESTIONS["md"],
        metadata_filter=condition,
    )  # fmt: skip
    assert found and {c.segment.document.name for c in found} <= {"txt.txt", "pdf.txt"}
    by_name = {
        "logical_operator": "or",
        "conditions": [
            {"name": "document_name", "comparison_operator": "start with", "value": "docx"}
        ],
    }
    found = retrieval.retrieve(
        workspace=workspace, dataset_ids=[str(dataset.pk)], query="anything at all",
        metadata_filter=by_name, retrieval_model={"search_method": "semantic_search"},
    )  # fmt: skip
    assert {c.segment.document.name for c in found} == {"docx.txt"}
    services.metadata_field_update(field=field, name="subject")
    assert dataset.documents.first().doc_metadata.keys() == {"subject", "year"}


def test_parent_child_returns_parents_with_matching_children():
    workspace = embedded_workspace()
    dataset = make_dataset(workspace, "PC")
    rule = {
        "mode": "hierarchical",
        "rules": {
            "pre_processing_rules": [],
            "segmentation": {"separator": "\n\n", "max_tokens": 300, "chunk_overlap": 0},
            "parent_mode": "paragraph",
            "subchunk_segmentation": {"separator": "\n", "max_tokens": 60, "chunk_overlap": 0},
        },
    }
    text = "\n\n".join([f"{FACTS['txt']}\n{FACTS['pdf']}", f"{FACTS['md']}\n{FACTS['docx']}"])
    services.document_create_from_text(dataset=dataset, name="pc", text=text, process_rule=rule)
    for method in ("semantic_search", "full_text_search", "hybrid_search"):
        found = _top(workspace, [dataset.pk], QUESTIONS["pdf"], search_method=method)
        assert found[0].segment.position == 1, method
        assert found[0].child_chunks and "Penguins" in found[0].child_chunks[0][0].content


def test_several_datasets_and_workspace_isolation(corpus):
    workspace, dataset = corpus
    other_ws = embedded_workspace()
    other = make_dataset(other_ws, "Other")
    services.document_create_from_text(dataset=other, name="secret.txt", text=FACTS["html"])
    second = make_dataset(workspace, "Second", indexing_technique="economy")
    services.document_create_from_text(dataset=second, name="moons.txt", text=FACTS["csv"])
    found = _top(workspace, [dataset.pk, second.pk, other.pk], QUESTIONS["csv"],
                 search_method="hybrid_search")  # fmt: skip
    assert found[0].segment.document.name == "moons.txt"
    assert all(c.segment.workspace_id == workspace.pk for c in found)
    assert _top(workspace, [other.pk], QUESTIONS["html"]) == []


def test_reranking_without_a_rerank_model_is_provider_not_initialize(corpus):
    workspace, dataset = corpus
    with pytest.raises(Exception) as info:
        _top(workspace, [dataset.pk], "lens", reranking_enable=True)
    assert info.value.code == "provider_not_initialize"


def test_retriever_port_returns_dify_result_items(corpus):
    workspace, dataset = corpus
    port = DatasetRetrieverPort(workspace)
    items = port.retrieve(
        query=QUESTIONS["docx"], dataset_ids=[str(dataset.pk)],
        config={"retrieval_mode": "multiple", "top_k": 2, "score_threshold": None,
                "reranking_enable": False, "reranking_mode": "weighted_score",
                "weights": {"vector_setting": {"vector_weight": 0.6},
                            "keyword_setting": {"keyword_weight": 0.4}},
                "metadata_filtering_mode": "disabled"},
    )  # fmt: skip
    assert len(items) == 2 and items[0]["title"] == "docx.txt"
    meta = items[0]["metadata"]
    assert meta["dataset_id"] == str(dataset.pk) and meta["dataset_name"] == "Facts"
    assert meta["position"] == 1 and 0 < meta["score"] <= 1 and meta["segment_id"]
    assert DatasetQuery.objects.filter(source="app").count() == 1


def test_reranking_with_a_rerank_model_reorders_by_its_scores(corpus, fake_openai):
    """A rerank model of the OpenAI-compatible provider (POST /v1/rerank on the fake server,
    scoring by shared words) reorders the candidates and its scores become the scores."""
    from apps.providers.services import default_model_set, provider_credentials_set

    workspace, dataset = corpus
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials={"base_url": fake_openai.base_url, "api_key": fake_openai.api_key,
                     "models": "fake-rerank:rerank"},
    )  # fmt: skip
    default_model_set(
        workspace=workspace, model_type="rerank", provider_name="openai_api_compatible",
        model="fake-rerank",
    )  # fmt: skip
    query = QUESTIONS["txt"]
    found = _top(workspace, [dataset.pk], query, search_method="hybrid_search",
                 reranking_enable=True, top_k=3)  # fmt: skip
    sent = fake_openai.requests_to("/rerank")
    assert sent and sent[-1].json["query"] == query and sent[-1].json["model"] == "fake-rerank"
    assert found and [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    words = {w.lower().strip(".,?!") for w in query.split()}
    best = {w.lower().strip(".,?!") for w in found[0].segment.content.split()} & words
    assert found[0].score == pytest.approx(len(best) / len(words))
