"""Metadata fields and document metadata values through the Knowledge API."""

from __future__ import annotations

import uuid

import pytest

from apps.datasets.models import Document, MetadataField
from tests.datasets.api_support import Tenant, tenant_fixture  # noqa: F401
from tests.factories import assert_dify_error

pytestmark = pytest.mark.django_db


def test_metadata_field_lifecycle(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    path = f"datasets/{dataset_id}/metadata"
    response = tenant.call("post", path, data={"type": "string", "name": "author"})
    assert response.status_code == 201, response.json()
    field = response.json()
    assert set(field) == {"id", "name", "type"} and field["type"] == "string"
    listed = tenant.call("get", path).json()
    assert listed == {
        "doc_metadata": [{**field, "count": 0}],
        "built_in_field_enabled": False,
    }
    response = tenant.call("patch", f"{path}/{field['id']}", data={"name": "writer"})
    assert response.status_code == 200 and response.json()["name"] == "writer"
    assert (
        tenant.call("get", f"datasets/{dataset_id}").json()["doc_metadata"][0]["name"] == "writer"
    )
    assert tenant.call("delete", f"{path}/{field['id']}").status_code == 204
    assert tenant.call("get", path).json()["doc_metadata"] == []


@pytest.mark.parametrize(
    "data",
    [{}, {"name": "x"}, {"type": "string"}, {"type": "blob", "name": "x"},
     {"type": "string", "name": "document_name"}],
)  # fmt: skip
def test_bad_metadata_field_is_400(tenant: Tenant, data: dict) -> None:
    dataset_id = tenant.dataset()["id"]
    response = tenant.call("post", f"datasets/{dataset_id}/metadata", data=data)
    assert_dify_error(response, 400, "invalid_param")
    assert not MetadataField.objects.filter(dataset_id=dataset_id).exists()


def test_unknown_metadata_is_404(tenant: Tenant) -> None:
    dataset_id = tenant.dataset()["id"]
    path = f"datasets/{dataset_id}/metadata/{uuid.uuid4()}"
    assert_dify_error(tenant.call("patch", path, data={"name": "x"}), 404, "not_found")
    assert_dify_error(tenant.call("delete", path), 404, "not_found")


def test_built_in_fields(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    fields = tenant.call("get", f"datasets/{dataset_id}/metadata/built-in").json()["fields"]
    assert {"name": "document_name", "type": "string"} in fields
    response = tenant.call("post", f"datasets/{dataset_id}/metadata/built-in/enable")
    assert response.json() == {"result": "success"}
    assert tenant.call("get", f"datasets/{dataset_id}").json()["built_in_field_enabled"] is True
    doc = tenant.call("get", f"datasets/{dataset_id}/documents/{document_id}").json()
    names = {m["name"]: m["value"] for m in doc["doc_metadata"] if m["id"] == "built-in"}
    assert names["document_name"] == doc["name"]
    tenant.call("post", f"datasets/{dataset_id}/metadata/built-in/disable")
    assert tenant.call("get", f"datasets/{dataset_id}").json()["built_in_field_enabled"] is False
    bad = tenant.call("post", f"datasets/{dataset_id}/metadata/built-in/explode")
    assert_dify_error(bad, 400, "invalid_action")


def test_set_document_metadata(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    field = tenant.call(
        "post", f"datasets/{dataset_id}/metadata", data={"type": "string", "name": "author"}
    ).json()
    body = {
        "operation_data": [
            {
                "document_id": document_id,
                "metadata_list": [{"id": field["id"], "name": "author", "value": "Ada"}],
            }
        ]
    }
    response = tenant.call("post", f"datasets/{dataset_id}/documents/metadata", data=body)
    assert response.status_code == 200, response.json()
    assert response.json() == {"result": "success"}
    doc = tenant.call("get", f"datasets/{dataset_id}/documents/{document_id}").json()
    assert {"id": field["id"], "name": "author", "type": "string", "value": "Ada"} in doc[
        "doc_metadata"
    ]
    listed = tenant.call("get", f"datasets/{dataset_id}/metadata").json()
    assert listed["doc_metadata"][0]["count"] == 1


def test_document_metadata_errors_write_nothing(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed()
    field = tenant.call(
        "post", f"datasets/{dataset_id}/metadata", data={"type": "string", "name": "author"}
    ).json()
    good = {"document_id": document_id, "metadata_list": [{"id": field["id"], "value": "Ada"}]}
    path = f"datasets/{dataset_id}/documents/metadata"
    missing_doc = {"document_id": str(uuid.uuid4()), "metadata_list": []}
    response = tenant.call("post", path, data={"operation_data": [good, missing_doc]})
    assert_dify_error(response, 404, "not_found")
    unknown_field = {"document_id": document_id, "metadata_list": [{"id": str(uuid.uuid4())}]}
    response = tenant.call("post", path, data={"operation_data": [good, unknown_field]})
    assert_dify_error(response, 404, "not_found")
    assert_dify_error(tenant.call("post", path, data={}), 400, "invalid_param")
    assert Document.objects.get(pk=document_id).doc_metadata in ({}, None)
