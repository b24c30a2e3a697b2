"""``/v1/datasets`` and ``/v1/datasets/{id}``: Dify's Knowledge Base endpoints."""

from __future__ import annotations

import uuid

import pytest

from apps.datasets.models import Dataset
from tests.datasets.api_support import Tenant, other_fixture, tenant_fixture  # noqa: F401
from tests.factories import app_key, assert_dify_error, make_app, make_workspace, service

pytestmark = pytest.mark.django_db


def test_create_returns_dify_dataset_shape(tenant: Tenant) -> None:
    body = tenant.dataset("Handbook", description="HR policies")
    assert body["name"] == "Handbook" and body["description"] == "HR policies"
    assert body["indexing_technique"] == "high_quality"
    assert body["permission"] == "only_me" and body["provider"] == "vendor"
    assert body["document_count"] == 0 and body["word_count"] == 0
    assert isinstance(body["created_at"], int) and isinstance(body["updated_at"], int)
    assert body["retrieval_model_dict"]["search_method"] == "semantic_search"
    assert body["doc_metadata"] == [] and body["tags"] == []
    uuid.UUID(body["id"])


def test_create_economy_and_custom_retrieval_model(tenant: Tenant) -> None:
    body = tenant.dataset(
        "Cheap",
        indexing_technique="economy",
        retrieval_model={"search_method": "keyword_search", "top_k": 4},
    )
    assert body["indexing_technique"] == "economy"
    assert body["retrieval_model_dict"]["search_method"] == "keyword_search"
    assert body["retrieval_model_dict"]["top_k"] == 4


def test_duplicate_name_is_409(tenant: Tenant) -> None:
    tenant.dataset("Same")
    response = tenant.call("post", "datasets", data={"name": "Same"})
    assert_dify_error(response, 409, "dataset_name_duplicate")
    assert Dataset.objects.filter(workspace=tenant.workspace).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": ""},
        {"name": "x" * 41},
        {"name": "ok", "indexing_technique": "best"},
        {"name": "ok", "permission": "everyone"},
        {"name": "ok", "retrieval_model": {"search_method": "magic"}},
        {"name": "ok", "provider": "external"},
    ],
)
def test_bad_create_body_is_400_and_writes_nothing(tenant: Tenant, data: dict) -> None:
    response = tenant.call("post", "datasets", data=data)
    body = assert_dify_error(response, 400, "invalid_param")
    assert body["message"]
    assert not Dataset.objects.filter(workspace=tenant.workspace).exists()


def test_high_quality_without_embedding_model_is_provider_not_initialize() -> None:
    from tests.factories import dataset_key

    client = service(dataset_key(make_workspace()))
    response = client.post(
        "/v1/datasets", {"name": "KB", "indexing_technique": "high_quality"}, format="json"
    )
    assert_dify_error(response, 400, "provider_not_initialize")
    # Without an explicit technique a workspace with no embedding model gets economy.
    response = client.post("/v1/datasets", {"name": "KB"}, format="json")
    assert response.status_code == 200 and response.json()["indexing_technique"] == "economy"


def test_list_is_paginated_with_keyword(tenant: Tenant) -> None:
    for name in ("alpha one", "alpha two", "beta"):
        tenant.dataset(name)
    body = tenant.call("get", "datasets?page=1&limit=2").json()
    assert set(body) == {"data", "has_more", "limit", "total", "page"}
    assert body["total"] == 3 and body["has_more"] is True and len(body["data"]) == 2
    assert body["page"] == 1 and body["limit"] == 2
    page2 = tenant.call("get", "datasets?page=2&limit=2").json()
    assert page2["has_more"] is False and len(page2["data"]) == 1
    names = {d["name"] for d in tenant.call("get", "datasets?keyword=alpha").json()["data"]}
    assert names == {"alpha one", "alpha two"}


@pytest.mark.parametrize("params", ["page=0", "limit=0", "limit=101", "page=x"])
def test_bad_pagination_is_400(tenant: Tenant, params: str) -> None:
    assert_dify_error(tenant.call("get", f"datasets?{params}"), 400, "invalid_param")


def test_get_patch_delete(tenant: Tenant) -> None:
    dataset_id = tenant.dataset("Old")["id"]
    assert tenant.call("get", f"datasets/{dataset_id}").json()["name"] == "Old"
    response = tenant.call(
        "patch",
        f"datasets/{dataset_id}",
        data={"name": "New", "retrieval_model": {"search_method": "hybrid_search"}},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "New"
    assert response.json()["retrieval_model_dict"]["search_method"] == "hybrid_search"
    response = tenant.call("delete", f"datasets/{dataset_id}")
    assert response.status_code == 204 and not response.content
    assert_dify_error(tenant.call("get", f"datasets/{dataset_id}"), 404, "not_found")


def test_patch_to_a_taken_name_is_409(tenant: Tenant) -> None:
    tenant.dataset("Taken")
    dataset_id = tenant.dataset("Mine")["id"]
    response = tenant.call("patch", f"datasets/{dataset_id}", data={"name": "Taken"})
    assert_dify_error(response, 409, "dataset_name_duplicate")


def test_document_count_and_word_count(tenant: Tenant) -> None:
    dataset_id, _ = tenant.indexed("Counted")
    body = tenant.call("get", f"datasets/{dataset_id}").json()
    assert body["document_count"] == 1 and body["word_count"] > 0
    assert body["total_available_documents"] == 1
    listed = tenant.call("get", "datasets").json()["data"][0]
    assert listed["document_count"] == 1 and listed["word_count"] == body["word_count"]


def test_unknown_and_malformed_ids_are_404(tenant: Tenant) -> None:
    assert_dify_error(tenant.call("get", f"datasets/{uuid.uuid4()}"), 404, "not_found")
    assert_dify_error(tenant.call("get", "datasets/not-a-uuid"), 404, "not_found")


def test_other_workspace_cannot_see_or_touch_dataset(tenant: Tenant, other: Tenant) -> None:
    dataset_id = other.dataset("Secret")["id"]
    for method in ("get", "patch", "delete"):
        response = tenant.call(method, f"datasets/{dataset_id}", data={"name": "x"})
        assert_dify_error(response, 404, "not_found")
    assert tenant.call("get", "datasets").json()["total"] == 0
    assert Dataset.objects.get(pk=dataset_id).name == "Secret"


def test_app_key_and_missing_key_are_401(tenant: Tenant) -> None:
    client = service(app_key(make_app(tenant.workspace)))
    assert_dify_error(client.get("/v1/datasets"), 401, "unauthorized")
    assert_dify_error(client.post("/v1/datasets", {"name": "x"}), 401, "unauthorized")
    tenant.client.credentials()
    assert_dify_error(tenant.client.get("/v1/datasets"), 401, "unauthorized")
