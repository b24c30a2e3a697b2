"""The annotation admin pages render with data, and the reply setting cannot be switched
there (the enable/disable jobs do it, embedding or dropping the annotations)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from apps.workflows.models import Annotation, AnnotationReplySetting
from tests.factories import app_key, make_workspace, service
from tests.service_api.annotation_support import add, annotated_app, enable

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser("root@example.com", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_annotation_pages_render(admin_client, fake_openai):
    app = annotated_app(make_workspace(), fake_openai)
    client = service(app_key(app))
    add(client, "Question for the admin?", "An answer.")
    job = enable(client)
    annotation = Annotation.objects.get()
    setting = AnnotationReplySetting.objects.get()
    for model in ("annotation", "annotationreplysetting", "annotationhithistory",
                  "annotationreplyjob"):  # fmt: skip
        response = admin_client.get(reverse(f"admin:workflows_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:workflows_annotation_change", args=[annotation.pk]))
    assert page.status_code == 200 and "Question for the admin?" in page.content.decode()
    assert (
        admin_client.get(
            reverse("admin:workflows_annotationreplyjob_change", args=[job["job_id"]])
        ).status_code
        == 200
    )
    response = admin_client.post(
        reverse("admin:workflows_annotationreplysetting_change", args=[setting.pk]),
        {"score_threshold": "0.75", "enabled": ""},
    )
    assert response.status_code == 302
    setting.refresh_from_db()
    assert setting.score_threshold == 0.75 and setting.enabled  # "enabled" is read-only here
    add_page = admin_client.get(reverse("admin:workflows_annotationreplysetting_add"))
    assert add_page.status_code == 403
