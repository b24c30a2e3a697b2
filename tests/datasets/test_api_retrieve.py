"""``POST /v1/datasets/{id}/retrieve``: Dify's hit testing over the offline MiniLM model."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.datasets.models import DatasetQuery
from tests.datasets.api_support import Tenant, other_fixture, tenant_fixture  # noqa: F401
from tests.factories import assert_dify_error

pytestmark = pytest.mark.django_db


def test_semantic_retrieve_returns_dify_records(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed(name="Facts")
    response = tenant.call(
        "post",
        f"datasets/{dataset_id}/retrieve",
        data={"query": "famous tower in Paris", "retrieval_model": {"top_k": 2,
              "search_method": "semantic_search", "reranking_enable": False,
              "score_threshold_enabled": False}},
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["query"] == {"content": "famous tower in Paris"}
    assert 1 <= len(body["records"]) <= 2
    top = body["records"][0]
    assert set(top) >= {"segment", "child_chunks", "score", "tsne_position"}
    assert top["tsne_position"] is None and isinstance(top["score"], float)
    assert "Eiffel" in top["segment"]["content"]
    assert top["segment"]["document"]["id"] == document_id
    assert set(top["segment"]["document"]) >= {"id", "data_source_type", "name"}
    scores = [r["score"] for r in body["records"]]
    assert scores == sorted(scores, reverse=True)
    assert DatasetQuery.objects.filter(dataset_id=dataset_id, source="api").exists()


@pytest.mark.parametrize("method", ["full_text_search", "hybrid_search", "keyword_search"])
def test_other_search_methods(tenant: Tenant, method: str) -> None:
    dataset_id, _ = tenant.indexed()
    response = tenant.call(
        "post",
        f"datasets/{dataset_id}/retrieve",
        data={"query": "photosynthesis", "retrieval_model": {"search_method": method, "top_k": 3}},
    )
    assert response.status_code == 200, response.json()
    records = response.json()["records"]
    assert records and "Photosynthesis" in records[0]["segment"]["content"]


@pytest.mark.parametrize(
    "data",
    [{}, {"query": ""}, {"query": "x" * 251}, {"query": "q", "retrieval_model": {"top_k": 0}},
     {"query": "q", "retrieval_model": {"search_method": "psychic"}}],
)  # fmt: skip
def test_bad_retrieve_is_400(tenant: Tenant, data: dict) -> None:
    dataset_id = tenant.dataset()["id"]
    response = tenant.call("post", f"datasets/{dataset_id}/retrieve", data=data)
    assert_dify_error(response, 400, "invalid_param")


def test_disabled_document_is_not_retrieved(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    tenant.call(
        "patch",
        f"datasets/{dataset_id}/documents/status/disable",
        data={"document_ids": [document_id]},
    )
    body = tenant.call(
        "post",
        f"datasets/{dataset_id}/retrieve",
        data={"query": "Eiffel Tower", "retrieval_model": {"search_method": "hybrid_search"}},
    ).json()
    assert body["records"] == []


def test_retrieve_never_returns_other_workspace_chunks(tenant: Tenant, other: Tenant) -> None:
    mine, _ = tenant.indexed("Shared name", text="Bananas are yellow fruit.")
    with connection.cursor() as cursor:  # the test's one transaction: flush deferred FK checks
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    theirs, _ = other.indexed("Shared name", text="The Eiffel Tower is in Paris.")
    response = tenant.call("post", f"datasets/{theirs}/retrieve", data={"query": "Eiffel"})
    assert_dify_error(response, 404, "not_found")
    for method in ("semantic_search", "full_text_search", "hybrid_search", "keyword_search"):
        body = tenant.call(
            "post",
            f"datasets/{mine}/retrieve",
            data={"query": "Eiffel Tower Paris", "retrieval_model": {"search_method": method}},
        ).json()
        assert all("Eiffel" not in r["segment"]["content"] for r in body["records"]), method
