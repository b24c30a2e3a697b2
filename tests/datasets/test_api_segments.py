"""Chunks (segments) of a document through the Knowledge API."""

from __future__ import annotations

import uuid

import pytest

from apps.datasets.models import Segment
from tests.datasets.api_support import Tenant, tenant_fixture  # noqa: F401
from tests.factories import assert_dify_error

pytestmark = pytest.mark.django_db


def _path(dataset_id: str, document_id: str, rest: str = "") -> str:
    return f"datasets/{dataset_id}/documents/{document_id}/segments{rest}"


def test_list_segments_with_keyword_and_pagination(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    body = tenant.call("get", _path(dataset_id, document_id)).json()
    assert set(body) == {"data", "doc_form", "total", "has_more", "limit", "page"}
    assert body["doc_form"] == "text_model" and body["total"] == 3
    first = body["data"][0]
    assert first["document_id"] == document_id and first["position"] == 1
    assert first["status"] == "completed" and first["enabled"] is True
    assert isinstance(first["created_at"], int) and first["child_chunks"] == []
    found = tenant.call("get", _path(dataset_id, document_id) + "?keyword=Eiffel").json()
    assert [s["content"] for s in found["data"]] == [
        "The Eiffel Tower is a wrought-iron lattice tower in Paris, France."
    ]
    page = tenant.call("get", _path(dataset_id, document_id) + "?limit=2&page=2").json()
    assert len(page["data"]) == 1 and page["has_more"] is False
    done = tenant.call("get", _path(dataset_id, document_id) + "?status=completed").json()
    assert done["total"] == 3


def test_create_get_update_delete_segment(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    response = tenant.call(
        "post",
        _path(dataset_id, document_id),
        data={"segments": [{"content": "Owls hunt at night.", "keywords": ["owl", "night"]}]},
    )
    assert response.status_code == 200, response.json()
    (created,) = response.json()["data"]
    assert response.json()["doc_form"] == "text_model"
    assert created["content"] == "Owls hunt at night." and created["keywords"] == ["owl", "night"]
    one = _path(dataset_id, document_id, f"/{created['id']}")
    assert tenant.call("get", one).json()["data"]["id"] == created["id"]
    response = tenant.call(
        "post", one, data={"segment": {"content": "Owls hunt at dusk.", "enabled": False}}
    )
    assert response.status_code == 200, response.json()
    updated = response.json()["data"]
    assert updated["content"] == "Owls hunt at dusk." and updated["enabled"] is False
    assert tenant.call("delete", one).status_code == 204
    assert_dify_error(tenant.call("get", one), 404, "not_found")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"segments": []},
        {"segments": [{"content": ""}]},
        {"segments": [{"content": "ok"}, {"content": "   "}]},
        {"segments": [{"answer": "no content"}]},
        {"segments": "text"},
    ],
)
def test_bad_segments_are_400_and_create_nothing(tenant: Tenant, data: dict) -> None:
    dataset_id, document_id = tenant.indexed()
    before = Segment.objects.filter(document_id=document_id).count()
    response = tenant.call("post", _path(dataset_id, document_id), data=data)
    assert_dify_error(response, 400, "invalid_param")
    assert Segment.objects.filter(document_id=document_id).count() == before


def test_bad_segment_update_is_400(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    segment_id = Segment.objects.filter(document_id=document_id).first().pk  # type: ignore[union-attr]
    one = _path(dataset_id, document_id, f"/{segment_id}")
    assert_dify_error(tenant.call("post", one, data={}), 400, "invalid_param")
    response = tenant.call("post", one, data={"segment": {"content": ""}})
    assert_dify_error(response, 400, "invalid_param")


def test_unknown_segment_and_document_are_404(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    missing = uuid.uuid4()
    for method in ("get", "post", "delete"):
        response = tenant.call(
            method, _path(dataset_id, document_id, f"/{missing}"), data={"segment": {}}
        )
        assert_dify_error(response, 404, "not_found")
    response = tenant.call("get", _path(dataset_id, str(missing)))
    assert_dify_error(response, 404, "not_found")
    body = {"segments": [{"content": "x"}]}
    assert_dify_error(
        tenant.call("post", _path(dataset_id, str(missing)), data=body), 404, "not_found"
    )


def test_hierarchical_document_lists_child_chunks(tenant: Tenant) -> None:
    rule = {
        "mode": "hierarchical",
        "rules": {
            "parent_mode": "paragraph",
            "segmentation": {"separator": "\n\n", "max_tokens": 500, "chunk_overlap": 0},
            "subchunk_segmentation": {"separator": ". ", "max_tokens": 50, "chunk_overlap": 0},
        },
    }
    text = "First sentence here. Second sentence here.\n\nAnother paragraph. With two parts."
    dataset_id, document_id = tenant.indexed(
        text=text, process_rule=rule, doc_form="hierarchical_model"
    )
    body = tenant.call("get", _path(dataset_id, document_id)).json()
    assert body["doc_form"] == "hierarchical_model"
    segment = body["data"][0]
    assert len(segment["child_chunks"]) == 2
    children = tenant.call("get", _path(dataset_id, document_id, f"/{segment['id']}/child_chunks"))
    assert children.status_code == 200, children.json()
    assert children.json()["total"] == 2 and children.json()["total_pages"] == 1
    assert children.json()["data"][0]["segment_id"] == segment["id"]
