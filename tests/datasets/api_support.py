"""Shared fixtures and helpers of the Knowledge API suites (``test_api_*.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.providers.services import default_model_set
from apps.tenants.models import Workspace
from tests.factories import dataset_key, make_workspace, service

TEXT = (
    "Cats are small domesticated carnivorous mammals that like to sleep.\n\n"
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.\n\n"
    "Photosynthesis converts light energy into chemical energy in plants."
)

# One chunk per paragraph of TEXT.
BY_PARAGRAPH = {
    "mode": "custom",
    "rules": {
        "pre_processing_rules": [],
        "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
    },
}


def embedded_workspace() -> Workspace:
    workspace = make_workspace()
    default_model_set(
        workspace=workspace,
        model_type="text-embedding",
        provider_name="minilm",
        model="all-MiniLM-L6-v2",
    )
    return workspace


class Tenant:
    """A workspace with a default embedding model and a dataset- key client."""

    def __init__(self, capture: Callable[..., Any]) -> None:
        self.workspace = embedded_workspace()
        self.client: APIClient = service(dataset_key(self.workspace))
        self._capture = capture

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request whose after-commit work (the indexing task) runs before returning."""
        kwargs.setdefault("format", "json")
        with self._capture(execute=True):
            return getattr(self.client, method)(f"/v1/{path.lstrip('/')}", **kwargs)

    def dataset(self, name: str = "Docs", **fields: Any) -> dict[str, Any]:
        response = self.call("post", "datasets", data={"name": name, **fields})
        assert response.status_code == 200, response.json()
        return response.json()

    def text_document(
        self, dataset_id: str, text: str = TEXT, name: str = "doc.txt", **fields: Any
    ) -> dict[str, Any]:
        response = self.call(
            "post",
            f"datasets/{dataset_id}/document/create-by-text",
            data={"name": name, "text": text, **fields},
        )
        assert response.status_code == 200, response.json()
        return response.json()

    def indexed(self, name: str = "Docs", text: str = TEXT, **fields: Any) -> tuple[str, str]:
        """A dataset with one completed document: (dataset_id, document_id)."""
        dataset_id = self.dataset(name)["id"]
        fields.setdefault("process_rule", BY_PARAGRAPH)
        document = self.text_document(dataset_id, text=text, **fields)["document"]
        detail = self.call("get", f"datasets/{dataset_id}/documents/{document['id']}").json()
        assert detail["indexing_status"] == "completed", detail
        return dataset_id, document["id"]


@pytest.fixture(name="tenant")
def tenant_fixture(django_capture_on_commit_callbacks: Callable[..., Any]) -> Tenant:
    return Tenant(django_capture_on_commit_callbacks)


@pytest.fixture(name="other")
def other_fixture(django_capture_on_commit_callbacks: Callable[..., Any]) -> Tenant:
    return Tenant(django_capture_on_commit_callbacks)
