"""A key or user of workspace A reads and changes nothing of workspace B."""

import pytest

from apps.providers import services as provider_services
from apps.tenants.models import ApiKey, Membership
from apps.tenants.services import api_key_create
from tests.factories import (
    app_key,
    assert_dify_error,
    console,
    make_app,
    make_workspace,
    owner_of,
    service,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_workspaces():
    a, b = make_workspace("A"), make_workspace("B")
    return a, b, make_app(a, name="app of A"), make_app(b, name="app of B")


def test_app_key_sees_only_its_own_app(two_workspaces):
    _a, _b, app_a, app_b = two_workspaces
    assert service(app_key(app_a)).get("/v1/info").json()["name"] == "app of A"
    assert service(app_key(app_b)).get("/v1/info").json()["name"] == "app of B"


def test_user_of_a_cannot_select_workspace_b(two_workspaces):
    a, b, _, _ = two_workspaces
    client = console(owner_of(a), b)
    for url in [
        "/console/api/workspaces/current",
        "/console/api/workspaces/current/members",
        "/console/api/apps",
        "/console/api/datasets/api-keys",
        "/console/api/workspaces/current/model-providers",
        "/console/api/workspaces/current/models",
    ]:
        assert_dify_error(client.get(url), 404, "not_found")


def test_workspace_listing_shows_only_own(two_workspaces):
    a, _b, _, _ = two_workspaces
    names = [
        w["name"] for w in console(owner_of(a)).get("/console/api/workspaces").json()["workspaces"]
    ]
    assert names == ["A"]


def test_lists_are_scoped(two_workspaces):
    a, b, _app_a, _app_b = two_workspaces
    api_key_create(workspace=b, key_type="dataset")
    client = console(owner_of(a), a)
    assert [x["name"] for x in client.get("/console/api/apps").json()["data"]] == ["app of A"]
    assert client.get("/console/api/datasets/api-keys").json()["data"] == []
    emails = [
        m["email"] for m in client.get("/console/api/workspaces/current/members").json()["accounts"]
    ]
    assert emails == [owner_of(a).email]


def test_objects_of_b_are_not_found_from_a(two_workspaces):
    a, b, app_a, app_b = two_workspaces
    client = console(owner_of(a), a)
    key_b, _ = api_key_create(workspace=b, key_type="dataset")
    app_key_b, _ = api_key_create(workspace=b, key_type="app", app=app_b)
    member_b = Membership.objects.get(workspace=b)
    assert_dify_error(client.post(f"/console/api/apps/{app_b.pk}/api-keys"), 404, "not_found")
    assert_dify_error(client.get(f"/console/api/apps/{app_b.pk}/api-keys"), 404, "not_found")
    assert_dify_error(client.delete(f"/console/api/datasets/api-keys/{key_b.pk}"), 404, "not_found")
    assert_dify_error(
        client.delete(f"/console/api/apps/{app_a.pk}/api-keys/{app_key_b.pk}"), 404, "not_found"
    )
    assert_dify_error(
        client.delete(f"/console/api/workspaces/current/members/{member_b.pk}"), 404, "not_found"
    )
    assert ApiKey.objects.filter(pk__in=[key_b.pk, app_key_b.pk]).count() == 2
    assert Membership.objects.filter(pk=member_b.pk).exists()


def test_provider_credentials_are_per_workspace(two_workspaces, fake_openai):
    a, b, _, _ = two_workspaces
    provider_services.provider_credentials_set(
        workspace=a,
        provider_name="openai_api_compatible",
        credentials={
            "base_url": fake_openai.base_url,
            "api_key": fake_openai.api_key,
            "models": "fake-chat",
        },
    )
    models_b = console(owner_of(b), b).get("/console/api/workspaces/current/models").json()["data"]
    assert all(m["provider"] != "openai_api_compatible" for m in models_b)
    providers_b = (
        console(owner_of(b), b)
        .get("/console/api/workspaces/current/model-providers")
        .json()["data"]
    )
    compat = next(p for p in providers_b if p["provider"] == "openai_api_compatible")
    assert compat["configured"] is False and "credentials" not in compat
    with pytest.raises(provider_services.ProviderNotInitialized):
        provider_services.provider_credentials_get(
            workspace=b, provider_name="openai_api_compatible"
        )
