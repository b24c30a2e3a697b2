"""Dify's workspace roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    NORMAL = "normal"
    DATASET_OPERATOR = "dataset_operator"


ROLE_CHOICES = [(r.value, r.value) for r in Role]
# The roles a member can be given (ownership is not handed out through the member API).
ASSIGNABLE_ROLES = [r.value for r in Role if r != Role.OWNER]


class Permission(StrEnum):
    USE_APPS = "use_apps"  # chat with / run the workspace's apps
    EDIT_APPS = "edit_apps"  # create and change apps, workflows, app API keys
    EDIT_DATASETS = "edit_datasets"  # knowledge bases and dataset API keys
    MANAGE_PROVIDERS = "manage_providers"  # model credentials and default models
    MANAGE_MEMBERS = "manage_members"  # invite, remove, change roles
    MANAGE_WORKSPACE = "manage_workspace"  # rename, transfer ownership, delete


_ALL = frozenset(Permission)
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - {Permission.MANAGE_WORKSPACE},
    Role.EDITOR: frozenset({Permission.USE_APPS, Permission.EDIT_APPS, Permission.EDIT_DATASETS}),
    Role.NORMAL: frozenset({Permission.USE_APPS}),
    Role.DATASET_OPERATOR: frozenset({Permission.USE_APPS, Permission.EDIT_DATASETS}),
}


def role_allows(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
