"""The admin: every page renders, provider credentials are masked, validation is real."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.providers import services
from apps.providers.models import DefaultModel, ProviderCredential
from apps.tenants.models import ApiKey
from apps.tenants.services import api_key_authenticate
from tests.factories import make_app, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser("root@example.com", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/tenants/workspace/",
        "/admin/tenants/workspace/add/",
        "/admin/tenants/membership/",
        "/admin/tenants/apikey/",
        "/admin/tenants/apikey/add/",
        "/admin/providers/providercredential/",
        "/admin/providers/providercredential/add/",
        "/admin/providers/providercredential/add/?provider=openai_api_compatible",
        "/admin/providers/defaultmodel/add/",
        "/admin/workflows/app/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_admin_pages_render(admin_client, path):
    make_workspace()
    assert admin_client.get(path).status_code == 200


def test_admin_adds_validates_and_masks_provider_credentials(admin_client, fake_openai):
    workspace = make_workspace()
    response = admin_client.post(
        "/admin/providers/providercredential/add/?provider=openai_api_compatible",
        {
            "workspace": str(workspace.pk),
            "provider": "openai_api_compatible",
            "validate": "on",
            "cred_base_url": fake_openai.base_url,
            "cred_api_key": fake_openai.api_key,
            "cred_models": "fake-chat",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    credential = ProviderCredential.objects.get(workspace=workspace)
    assert credential.is_valid is True and fake_openai.requests
    page = admin_client.get(f"/admin/providers/providercredential/{credential.pk}/change/")
    html = page.content.decode()
    assert fake_openai.api_key not in html
    assert services.provider_credentials_masked(credential)["api_key"] in html

    # re-save without re-typing the secret keeps it
    admin_client.post(
        f"/admin/providers/providercredential/{credential.pk}/change/",
        {"cred_base_url": fake_openai.base_url, "cred_api_key": "", "cred_models": "fake-chat,x"},
    )
    stored = services.provider_credentials_get(
        workspace=workspace, provider_name="openai_api_compatible"
    )
    assert stored["api_key"] == fake_openai.api_key and stored["models"] == "fake-chat,x"

    # the action makes a real call and records the outcome
    fake_openai.fail_next(401, "Incorrect API key provided", code="invalid_api_key", times=3)
    response = admin_client.post(
        "/admin/providers/providercredential/",
        {"action": "validate_credentials", "_selected_action": [str(credential.pk)]},
        follow=True,
    )
    assert "validation failed" in response.content.decode()
    credential.refresh_from_db()
    assert credential.is_valid is False


def test_admin_rejects_bad_credentials_with_a_form_error(admin_client, fake_openai):
    workspace = make_workspace()
    response = admin_client.post(
        "/admin/providers/providercredential/add/?provider=openai_api_compatible",
        {
            "workspace": str(workspace.pk),
            "provider": "openai_api_compatible",
            "validate": "on",
            "cred_base_url": fake_openai.base_url,
            "cred_api_key": "sk-nope-nope",
            "cred_models": "fake-chat",
        },
    )
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert "sk-nope-nope" not in response.content.decode()
    assert not ProviderCredential.objects.exists()


def test_admin_sets_default_model(admin_client):
    workspace = make_workspace()
    response = admin_client.post(
        "/admin/providers/defaultmodel/add/",
        {
            "workspace": str(workspace.pk),
            "model_type": "text-embedding",
            "provider": "minilm",
            "model": "all-MiniLM-L6-v2",
        },
    )
    assert response.status_code == 302
    assert DefaultModel.objects.get(workspace=workspace).model == "all-MiniLM-L6-v2"
    bad = admin_client.post(
        "/admin/providers/defaultmodel/add/",
        {
            "workspace": str(workspace.pk),
            "model_type": "llm",
            "provider": "minilm",
            "model": "all-MiniLM-L6-v2",
        },
    )
    assert bad.status_code == 200 and "no llm model" in bad.content.decode()


def test_admin_creates_api_key_and_shows_it_once(admin_client):
    workspace = make_workspace()
    app = make_app(workspace)
    response = admin_client.post(
        "/admin/tenants/apikey/add/",
        {"workspace": str(workspace.pk), "type": "app", "app": str(app.pk)},
        follow=True,
    )
    html = response.content.decode()
    raw = html.split("it is not shown again): ")[1].split("<")[0].strip()
    key = api_key_authenticate(raw)
    assert key is not None and key.app_id == app.pk
    listing = admin_client.get("/admin/tenants/apikey/").content.decode()
    assert raw not in listing and ApiKey.objects.count() == 1
