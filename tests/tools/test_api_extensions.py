"""API-based extensions: the console API at Dify's paths, the ping check, the SSRF guard,
masked keys, roles and workspace isolation."""

from __future__ import annotations

import uuid

import pytest

from apps.tenants.crypto import decrypt_json
from apps.tenants.roles import Role
from apps.tools.models import ApiBasedExtension
from tests.factories import add_member, assert_dify_error, console, make_workspace, owner_of
from tests.fakes.extension_server import FakeExtensionServer

pytestmark = pytest.mark.django_db
PATH = "/console/api/api-based-extension"


@pytest.fixture
def extension(settings):
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with FakeExtensionServer(api_key="ext-secret-key-123") as server:
        yield server


def _create(client, server, **extra):
    body = {"name": "moderator", "api_endpoint": server.url, "api_key": server.api_key, **extra}
    return client.post(PATH, body, format="json")


def test_extension_crud_pings_and_masks_the_key(extension):
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    created = _create(client, extension)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "moderator" and body["api_endpoint"] == extension.url
    assert body["api_key"] != extension.api_key and body["api_key"].startswith("ext-")
    assert extension.points() == ["ping"]
    stored = ApiBasedExtension.objects.get(pk=body["id"])
    assert extension.api_key not in stored.encrypted_api_key
    assert decrypt_json(stored.encrypted_api_key)["api_key"] == extension.api_key

    assert [e["id"] for e in client.get(PATH).json()] == [body["id"]]
    assert client.get(f"{PATH}/{body['id']}").json()["api_key"] == body["api_key"]
    renamed = client.post(
        f"{PATH}/{body['id']}", {"name": "judge", "api_key": body["api_key"]}, format="json"
    )  # the masked key sent back keeps the stored one
    assert renamed.status_code == 200 and renamed.json()["name"] == "judge"
    stored.refresh_from_db()
    assert decrypt_json(stored.encrypted_api_key)["api_key"] == extension.api_key
    assert client.delete(f"{PATH}/{body['id']}").status_code == 204
    assert not ApiBasedExtension.objects.filter(pk=body["id"]).exists()


def test_extension_bad_input_is_a_dify_400(extension, settings):
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    assert_dify_error(_create(client, extension, api_endpoint="ftp://x"), 400, "invalid_param")
    assert_dify_error(_create(client, extension, api_key="abc"), 400, "invalid_param")
    assert_dify_error(_create(client, extension, name=""), 400, "invalid_param")
    assert_dify_error(_create(client, extension, color="red"), 400, "invalid_param")
    wrong_key = _create(client, extension, api_key="not-the-right-key")  # 401 from the endpoint
    assert_dify_error(wrong_key, 400, "completion_request_error")
    assert _create(client, extension).status_code == 201
    assert_dify_error(_create(client, extension), 400, "invalid_param")  # same name
    settings.SSRF_ALLOWED_NETWORKS = []  # loopback is refused by the guard
    refused = _create(client, extension, name="other")
    assert_dify_error(refused, 400, "completion_request_error")
    assert "not allowed" in refused.json()["message"] or "refused" in refused.json()["message"]
    assert ApiBasedExtension.objects.count() == 1


def test_extension_that_does_not_pong_is_refused(extension):
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    extension.answers["ping"] = {"result": "nope"}
    assert_dify_error(_create(client, extension), 400, "invalid_param")
    extension.status = 500
    assert_dify_error(_create(client, extension), 400, "completion_request_error")
    assert not ApiBasedExtension.objects.exists()


def test_extensions_of_another_workspace_are_not_found(extension):
    mine, theirs = make_workspace(), make_workspace()
    created = _create(console(owner_of(theirs), theirs), extension).json()
    client = console(owner_of(mine), mine)
    assert client.get(PATH).json() == []
    for method in ("get", "post", "delete"):
        response = getattr(client, method)(f"{PATH}/{created['id']}", {}, format="json")
        assert_dify_error(response, 404, "not_found")
    assert_dify_error(client.get(f"{PATH}/{uuid.uuid4()}"), 404, "not_found")
    assert_dify_error(client.get(f"{PATH}/not-a-uuid"), 404, "not_found")
    assert ApiBasedExtension.objects.filter(pk=created["id"]).exists()


def test_only_owners_and_admins_manage_extensions(extension):
    workspace = make_workspace()
    normal = console(add_member(workspace, Role.NORMAL), workspace)
    assert normal.post(PATH, {}, format="json").status_code == 403
    assert console(add_member(workspace, Role.ADMIN), workspace).get(PATH).status_code == 200
