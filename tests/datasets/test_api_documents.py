"""Documents of the Knowledge API: create/update by text or file, list, detail, progress."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.datasets.models import Document, Segment
from tests.datasets.api_support import TEXT, Tenant, other_fixture, tenant_fixture  # noqa: F401
from tests.factories import assert_dify_error

pytestmark = pytest.mark.django_db


def _upload(
    tenant: Tenant, path: str, name: str, content: bytes, data: Any = None, mime: str = "text/plain"
) -> Any:
    form: dict[str, Any] = {"file": SimpleUploadedFile(name, content, mime)}
    if data is not None:
        form["data"] = data if isinstance(data, str) else json.dumps(data)
    return tenant.call("post", path, data=form, format="multipart")


def test_create_by_text_indexes_and_reports_progress(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    body = tenant.text_document(dataset_id, name="animals")
    document, batch = body["document"], body["batch"]
    assert document["name"] == "animals" and batch
    assert document["data_source_type"] == "upload_file" or document["data_source_type"]
    assert isinstance(document["created_at"], int)
    status = tenant.call("get", f"datasets/{dataset_id}/documents/{batch}/indexing-status")
    assert status.status_code == 200, status.json()
    (item,) = status.json()["data"]
    assert item["id"] == document["id"] and item["indexing_status"] == "completed"
    assert item["total_segments"] >= 1
    assert item["completed_segments"] == item["total_segments"]
    assert isinstance(item["completed_at"], int)
    detail = tenant.call("get", f"datasets/{dataset_id}/documents/{document['id']}").json()
    assert detail["display_status"] == "available" and detail["segment_count"] >= 1
    assert detail["tokens"] > 0 and detail["word_count"] > 0


def test_create_by_text_with_custom_process_rule(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
            "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
        },
    }
    body = tenant.text_document(dataset_id, process_rule=rule, doc_form="text_model")
    assert Segment.objects.filter(document_id=body["document"]["id"]).count() == 3


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "n", "text": ""}, "text"),
        ({"name": "n", "text": "   \n"}, "text"),
        ({"text": "hello"}, "name"),
        ({"name": "", "text": "hello"}, "name"),
        ({"name": "n", "text": "hello", "doc_form": "novel"}, "doc_form"),
        ({"name": "n", "text": "t", "process_rule": {"mode": "weird"}}, "process_rule"),
        ({"name": "n", "text": "t", "process_rule": {"mode": "custom"}}, "process_rule"),
        (
            {
                "name": "n",
                "text": "t",
                "process_rule": {
                    "mode": "custom",
                    "rules": {"segmentation": {"separator": "\n", "max_tokens": 0}},
                },
            },
            "process_rule",
        ),
    ],
)
def test_bad_text_document_is_400_naming_the_field(tenant: Tenant, data: dict, field: str) -> None:
    dataset_id = tenant.dataset()["id"]
    response = tenant.call("post", f"datasets/{dataset_id}/document/create-by-text", data=data)
    body = assert_dify_error(response, 400, "invalid_param")
    assert field in body["message"]
    assert not Document.objects.filter(dataset_id=dataset_id).exists()


def test_create_by_file_indexes_the_upload(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    data = {"indexing_technique": "high_quality", "process_rule": {"mode": "automatic"}}
    path = f"datasets/{dataset_id}/document/create-by-file"
    response = _upload(tenant, path, "notes.txt", TEXT.encode(), data)
    assert response.status_code == 200, response.json()
    document = response.json()["document"]
    assert document["name"] == "notes.txt" and response.json()["batch"]
    detail = tenant.call("get", f"datasets/{dataset_id}/documents/{document['id']}").json()
    assert detail["indexing_status"] == "completed", detail
    assert detail["data_source_info"]["upload_file"]["extension"] in ("txt", ".txt")


def test_file_upload_errors(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    path = f"datasets/{dataset_id}/document/create-by-file"
    no_file = tenant.call("post", path, data={"data": "{}"}, format="multipart")
    assert_dify_error(no_file, 400, "no_file_uploaded")
    assert_dify_error(_upload(tenant, path, "empty.txt", b""), 400, "no_file_uploaded")
    assert_dify_error(
        _upload(tenant, path, "tool.exe", b"MZ\x90\x00", mime="application/x-msdownload"),
        415,
        "unsupported_file_type",
    )
    assert_dify_error(_upload(tenant, path, "a.txt", b"hi", data="{not json"), 400, "invalid_param")
    bad_rule = {"process_rule": {"mode": "custom", "rules": {}}}
    assert_dify_error(_upload(tenant, path, "a.txt", b"hi", data=bad_rule), 400, "invalid_param")
    with override_settings(DATASET_UPLOAD_MAX_BYTES=10):
        assert_dify_error(_upload(tenant, path, "big.txt", b"x" * 11), 413, "file_too_large")
    assert not Document.objects.filter(dataset_id=dataset_id).exists()


def test_update_by_text_reindexes(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    path = f"datasets/{dataset_id}/documents/{document_id}/update-by-text"
    response = tenant.call("post", path, data={"name": "renamed", "text": "Only one line now."})
    assert response.status_code == 200, response.json()
    assert response.json()["document"]["name"] == "renamed" and response.json()["batch"]
    contents = list(
        Segment.objects.filter(document_id=document_id).values_list("content", flat=True)
    )
    assert contents == ["Only one line now."]
    empty = tenant.call("post", path, data={"name": "x", "text": ""})
    assert_dify_error(empty, 400, "invalid_param")


def test_update_by_file_reindexes(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    path = f"datasets/{dataset_id}/documents/{document_id}/update-by-file"
    response = _upload(tenant, path, "new.md", b"# Title\n\nBrand new content.")
    assert response.status_code == 200, response.json()
    assert response.json()["document"]["id"] == document_id
    text = " ".join(
        Segment.objects.filter(document_id=document_id).values_list("content", flat=True)
    )
    assert "Brand new content" in text


def test_list_documents_paginates_and_filters(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    for name in ("guide one", "guide two", "faq"):
        tenant.text_document(dataset_id, name=name)
    body = tenant.call("get", f"datasets/{dataset_id}/documents?limit=2").json()
    assert set(body) == {"data", "has_more", "limit", "total", "page"}
    assert body["total"] == 3 and body["has_more"] and len(body["data"]) == 2
    found = tenant.call("get", f"datasets/{dataset_id}/documents?keyword=guide").json()
    assert {d["name"] for d in found["data"]} == {"guide one", "guide two"}
    available = tenant.call("get", f"datasets/{dataset_id}/documents?status=available").json()
    assert available["total"] == 3
    bad = tenant.call("get", f"datasets/{dataset_id}/documents?status=sleeping")
    assert_dify_error(bad, 400, "invalid_param")


def test_status_actions(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    base = f"datasets/{dataset_id}/documents"
    detail = f"{base}/{document_id}"
    ids = {"document_ids": [document_id]}
    assert tenant.call("patch", f"{base}/status/disable", data=ids).json() == {"result": "success"}
    assert tenant.call("get", detail).json()["display_status"] == "disabled"
    assert tenant.call("patch", f"{base}/status/enable", data=ids).status_code == 200
    assert tenant.call("patch", f"{base}/status/archive", data=ids).status_code == 200
    assert tenant.call("get", detail).json()["display_status"] == "archived"
    assert_dify_error(tenant.call("delete", detail), 403, "archived_document_immutable")
    assert tenant.call("patch", f"{base}/status/un_archive", data=ids).status_code == 200
    assert tenant.call("get", detail).json()["display_status"] == "available"
    bad = tenant.call("patch", f"{base}/status/explode", data=ids)
    assert_dify_error(bad, 400, "invalid_action")
    unknown = {"document_ids": [str(uuid.uuid4())]}
    assert_dify_error(
        tenant.call("patch", f"{base}/status/disable", data=unknown), 404, "not_found"
    )


def test_delete_document(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    path = f"datasets/{dataset_id}/documents/{document_id}"
    response = tenant.call("delete", path)
    assert response.status_code == 204
    assert_dify_error(tenant.call("get", path), 404, "not_found")
    assert not Segment.objects.filter(document_id=document_id).exists()


def test_pause_resume_retry(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    # As if a worker had not picked it up yet.
    Document.objects.filter(pk=document_id).update(indexing_status="waiting")
    base = f"datasets/{dataset_id}/documents/{document_id}"
    response = tenant.call("patch", f"{base}/processing/pause")
    assert response.status_code == 200, response.json()
    assert response.json()["result"] == "success"
    assert response.json()["document"]["display_status"] == "paused"
    response = tenant.call("patch", f"{base}/processing/resume")
    assert response.status_code == 200, response.json()
    detail = tenant.call("get", base).json()
    assert detail["indexing_status"] == "completed", detail
    # Nothing to resume or pause now; retry of a completed document leaves it as it is.
    assert_dify_error(tenant.call("patch", f"{base}/processing/resume"), 400, "document_indexing")
    assert_dify_error(tenant.call("post", f"{base}/processing/pause"), 400, "document_indexing")
    response = tenant.call("post", f"{base}/retry")
    assert response.status_code == 200 and response.json()["document"]["indexing_status"] == (
        "completed"
    )


def test_unknown_ids_are_404(tenant: Tenant) -> None:
    dataset_id, _ = tenant.indexed()
    missing = uuid.uuid4()
    paths = [
        f"datasets/{missing}/documents",
        f"datasets/{dataset_id}/documents/{missing}",
        f"datasets/{dataset_id}/documents/no-such-batch/indexing-status",
    ]
    for path in paths:
        assert_dify_error(tenant.call("get", path), 404, "not_found")
    text = {"name": "n", "text": "t"}
    response = tenant.call("post", f"datasets/{missing}/document/create-by-text", data=text)
    assert_dify_error(response, 404, "not_found")
    response = tenant.call(
        "post", f"datasets/{dataset_id}/documents/{missing}/update-by-text", data=text
    )
    assert_dify_error(response, 404, "not_found")
