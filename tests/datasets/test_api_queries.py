"""The list endpoints run a fixed number of SQL queries, however many rows they return."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.datasets.api_support import Tenant, tenant_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def _queries(tenant: Tenant, path: str) -> int:
    """Queries of the call itself: a first call warms the API key cache (2 s TTL, so a
    slow step between two measurements must not count its refresh)."""
    tenant.client.get(f"/v1/{path}")
    with CaptureQueriesContext(connection) as ctx:
        response = tenant.client.get(f"/v1/{path}")
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries)


def test_list_endpoints_have_no_n_plus_one(tenant: Tenant) -> None:
    dataset_id, document_id = tenant.indexed("first")
    tenant.call("post", f"datasets/{dataset_id}/metadata", data={"type": "string", "name": "a"})
    segments = f"datasets/{dataset_id}/documents/{document_id}/segments"
    paths = ["datasets", f"datasets/{dataset_id}/documents", segments]
    before = [_queries(tenant, p) for p in paths]
    tenant.indexed("second")
    tenant.text_document(dataset_id, name="more")
    tenant.call("post", segments, data={"segments": [{"content": "x"}, {"content": "y"}]})
    after = [_queries(tenant, p) for p in paths]
    assert after == before
