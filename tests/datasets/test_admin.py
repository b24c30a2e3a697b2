"""The knowledge-base admin pages and document actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.datasets import services
from apps.datasets.models import Document
from tests.datasets.kb_support import embedded_workspace, make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_docs(admin_client):
    dataset = make_dataset(embedded_workspace(), "Admin", indexing_technique="economy")
    document = services.document_create_from_text(dataset=dataset, name="a", text="Some text.")
    return admin_client, dataset, document


def test_changelists_render(admin_client_with_docs):
    client, _dataset, document = admin_client_with_docs
    for model in ("dataset", "document", "segment", "datasetquery", "metadatafield"):
        response = client.get(reverse(f"admin:datasets_{model}_changelist"))
        assert response.status_code == 200, model
    page = client.get(reverse("admin:datasets_document_changelist")).content.decode()
    assert "1/1" in page  # progress completed/total segments
    response = client.get(reverse("admin:datasets_document_change", args=[document.pk]))
    assert response.status_code == 200


def test_retry_action_requeues_failed_documents(admin_client_with_docs):
    client, _dataset, document = admin_client_with_docs
    Document.objects.filter(pk=document.pk).update(indexing_status="error", error="boom")
    response = client.post(
        reverse("admin:datasets_document_changelist"),
        {"action": "retry", "_selected_action": [str(document.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    document.refresh_from_db()
    assert document.indexing_status == "completed" and document.error == ""
