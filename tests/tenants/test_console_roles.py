"""What each of Dify's roles may do through the console API."""

import pytest

from apps.tenants.models import ApiKey, Membership
from apps.tenants.roles import ROLE_PERMISSIONS, Permission, Role
from tests.factories import (
    add_member,
    assert_dify_error,
    console,
    make_app,
    make_workspace,
    owner_of,
)

pytestmark = pytest.mark.django_db


def test_role_table_matches_dify():
    assert ROLE_PERMISSIONS[Role.OWNER] == frozenset(Permission)
    assert Permission.MANAGE_WORKSPACE not in ROLE_PERMISSIONS[Role.ADMIN]
    assert Permission.MANAGE_PROVIDERS in ROLE_PERMISSIONS[Role.ADMIN]
    assert ROLE_PERMISSIONS[Role.EDITOR] == {
        Permission.USE_APPS,
        Permission.EDIT_APPS,
        Permission.EDIT_DATASETS,
    }
    assert ROLE_PERMISSIONS[Role.NORMAL] == {Permission.USE_APPS}
    assert ROLE_PERMISSIONS[Role.DATASET_OPERATOR] == {
        Permission.USE_APPS,
        Permission.EDIT_DATASETS,
    }


@pytest.mark.parametrize(
    ("role", "create_app", "app_key", "dataset_key", "invite", "providers"),
    [
        ("owner", 201, 201, 201, 201, 200),
        ("admin", 201, 201, 201, 201, 200),
        ("editor", 201, 201, 201, 403, 403),
        ("normal", 403, 403, 403, 403, 403),
        ("dataset_operator", 403, 403, 201, 403, 403),
    ],
)
def test_role_permissions(role, create_app, app_key, dataset_key, invite, providers):
    workspace = make_workspace()
    user = owner_of(workspace) if role == "owner" else add_member(workspace, role)
    app = make_app(workspace)
    client = console(user, workspace)
    assert client.post("/console/api/apps", {"name": "X", "mode": "chat"}).status_code == create_app
    assert client.post(f"/console/api/apps/{app.pk}/api-keys").status_code == app_key
    assert client.post("/console/api/datasets/api-keys").status_code == dataset_key
    invite_resp = client.post(
        "/console/api/workspaces/current/members", {"email": "new@example.com", "role": "normal"}
    )
    assert invite_resp.status_code == invite
    creds = client.post(
        "/console/api/workspaces/current/model-providers/minilm/credentials",
        {"credentials": {}, "validate": False},
        format="json",
    )
    assert creds.status_code == providers
    if providers == 403:
        assert_dify_error(creds, 403, "forbidden")
    # everyone may read the workspace, its members and apps
    assert client.get("/console/api/workspaces/current").json()["role"] == role
    assert client.get("/console/api/workspaces/current/members").status_code == 200
    assert client.get("/console/api/apps").status_code == 200


def test_created_key_is_shown_once_then_only_its_prefix():
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    created = client.post("/console/api/datasets/api-keys").json()
    assert created["token"].startswith("dataset-") and len(created["token"]) == 32
    listed = client.get("/console/api/datasets/api-keys").json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert listed[0]["token"] != created["token"] and listed[0]["token"].endswith("…")
    assert client.delete(f"/console/api/datasets/api-keys/{created['id']}").status_code == 204
    assert not ApiKey.objects.filter(pk=created["id"]).exists()


def test_owner_cannot_be_removed_or_demoted():
    workspace = make_workspace()
    owner = owner_of(workspace)
    admin = add_member(workspace, "admin")
    owner_membership = Membership.objects.get(workspace=workspace, user=owner)
    client = console(admin, workspace)
    url = f"/console/api/workspaces/current/members/{owner_membership.pk}"
    assert_dify_error(client.delete(url), 403, "forbidden")
    assert_dify_error(client.put(url, {"role": "normal"}), 403, "forbidden")


def test_member_role_change_and_removal():
    workspace = make_workspace()
    member = add_member(workspace, "normal")
    membership = Membership.objects.get(workspace=workspace, user=member)
    client = console(owner_of(workspace), workspace)
    url = f"/console/api/workspaces/current/members/{membership.pk}"
    assert client.put(url, {"role": "editor"}).json()["role"] == "editor"
    assert client.delete(url).status_code == 204
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_bad_input_is_a_dify_shaped_400():
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    body = assert_dify_error(
        client.post("/console/api/workspaces/current/members", {"email": "x", "role": "king"}),
        400,
        "invalid_param",
    )
    assert "email" in body["message"] and "role" in body["message"]
    assert_dify_error(
        client.post("/console/api/apps", {"name": "", "mode": "chat"}), 400, "invalid_param"
    )
    assert_dify_error(
        client.post("/console/api/apps", {"name": "A", "mode": "robot"}), 400, "invalid_param"
    )
    existing = add_member(workspace, "normal")
    assert_dify_error(
        client.post(
            "/console/api/workspaces/current/members", {"email": existing.email, "role": "editor"}
        ),
        400,
        "invalid_param",
    )


def test_anonymous_console_request_is_401():
    from rest_framework.test import APIClient

    assert_dify_error(APIClient().get("/console/api/workspaces/current"), 401, "unauthorized")
    assert_dify_error(APIClient().get("/console/api/workspaces"), 401, "unauthorized")


def test_user_without_workspace_is_403():
    from tests.factories import make_user

    assert_dify_error(console(make_user()).get("/console/api/workspaces/current"), 403, "forbidden")
