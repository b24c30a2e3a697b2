"""Every Knowledge API endpoint: another workspace's ids are 404, app- keys are 401."""

from __future__ import annotations

from typing import Any

import pytest

from apps.datasets.models import Document, MetadataField, Segment
from tests.datasets.api_support import Tenant, other_fixture, tenant_fixture  # noqa: F401
from tests.factories import app_key, assert_dify_error, make_app, service

pytestmark = pytest.mark.django_db

D, DOC, SEG, META = (
    "{d}",
    "{d}/documents/{doc}",
    "{d}/documents/{doc}/segments/{seg}",
    "{d}/metadata/{m}",
)
ENDPOINTS: list[tuple[str, str, Any]] = [
    ("get", D, None),
    ("patch", D, {"name": "stolen"}),
    ("delete", D, None),
    ("post", f"{D}/retrieve", {"query": "Eiffel"}),
    ("post", f"{D}/document/create-by-text", {"name": "n", "text": "t"}),
    ("post", f"{D}/document/create_by_text", {"name": "n", "text": "t"}),
    ("post", f"{D}/document/create-by-file", {}),
    ("get", f"{D}/documents", None),
    ("get", f"{D}/documents/{{batch}}/indexing-status", None),
    ("patch", f"{D}/documents/status/disable", {"document_ids": ["{doc}"]}),
    ("post", f"{D}/documents/metadata", {"operation_data": []}),
    ("get", DOC, None),
    ("delete", DOC, None),
    ("post", f"{DOC}/update-by-text", {"name": "n", "text": "t"}),
    ("post", f"{DOC}/update-by-file", {}),
    ("post", f"{DOC}/retry", None),
    ("patch", f"{DOC}/processing/pause", None),
    ("patch", f"{DOC}/processing/resume", None),
    ("get", f"{DOC}/segments", None),
    ("post", f"{DOC}/segments", {"segments": [{"content": "x"}]}),
    ("get", SEG, None),
    ("post", SEG, {"segment": {"content": "x"}}),
    ("delete", SEG, None),
    ("get", f"{SEG}/child_chunks", None),
    ("get", f"{D}/metadata", None),
    ("post", f"{D}/metadata", {"type": "string", "name": "x"}),
    ("patch", META, {"name": "y"}),
    ("delete", META, None),
    ("get", f"{D}/metadata/built-in", None),
    ("post", f"{D}/metadata/built-in/enable", None),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def victim_ids(other: Tenant) -> dict[str, str]:
    dataset_id, document_id = other.indexed("Victim", text="The Eiffel Tower is in Paris.")
    document = Document.objects.get(pk=document_id)
    field = other.call(
        "post", f"datasets/{dataset_id}/metadata", data={"type": "string", "name": "tag"}
    ).json()
    return {
        "d": dataset_id,
        "doc": document_id,
        "seg": str(Segment.objects.filter(document=document).first().pk),  # type: ignore[union-attr]
        "m": field["id"],
        "batch": document.batch,
    }


def _snapshot(ids: dict[str, str]) -> tuple[Any, ...]:
    document = Document.objects.get(pk=ids["doc"])
    return (
        document.name,
        document.enabled,
        document.dataset.name,
        sorted(Segment.objects.filter(document=document).values_list("content", flat=True)),
        MetadataField.objects.get(pk=ids["m"]).name,
    )


@pytest.mark.parametrize(("method", "template", "data"), ENDPOINTS)
def test_other_workspace_ids_are_404(
    tenant: Tenant, victim_ids: dict[str, str], method: str, template: str, data: Any
) -> None:
    before = _snapshot(victim_ids)
    path = "datasets/" + _fill(template, victim_ids)
    response = tenant.call(method, path, data=_fill(data, victim_ids))
    assert_dify_error(response, 404, "not_found")
    assert _snapshot(victim_ids) == before


@pytest.mark.parametrize(("method", "template", "data"), [("get", "", None), *ENDPOINTS])
def test_app_key_is_401_everywhere(
    other: Tenant, victim_ids: dict[str, str], method: str, template: str, data: Any
) -> None:
    client = service(app_key(make_app(other.workspace)))
    path = "/v1/datasets" + ("/" + _fill(template, victim_ids) if template else "")
    response = getattr(client, method)(path, _fill(data, victim_ids), format="json")
    assert_dify_error(response, 401, "unauthorized")
