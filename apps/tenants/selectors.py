"""Reads of tenant data. Each takes the workspace (or resolves it) explicitly."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from apps.core.errors import Forbidden, InvalidParam, NotFound
from apps.tenants.models import ApiKey, Membership, Workspace


def workspace_resolve(ref: str | uuid.UUID) -> Workspace:
    """A workspace by id or by exact name (as the management commands accept)."""
    text = str(ref).strip()
    try:
        return Workspace.objects.get(pk=uuid.UUID(text))
    except (ValueError, Workspace.DoesNotExist):
        pass
    matches = list(Workspace.objects.filter(name=text)[:2])
    if not matches:
        raise NotFound(f"workspace {text!r} not found")
    if len(matches) > 1:
        raise InvalidParam(f"more than one workspace is named {text!r}; use its id")
    return matches[0]


def workspaces_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Membership]:
    if user.pk is None:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk, workspace__status="normal").select_related(
        "workspace"
    )


def membership_for(
    user: AbstractBaseUser | AnonymousUser, workspace_id: str | uuid.UUID | None
) -> Membership:
    """The user's membership in the requested workspace, or in their first one."""
    memberships = workspaces_for_user(user)
    if workspace_id:
        try:
            wanted = uuid.UUID(str(workspace_id))
        except ValueError as exc:
            raise InvalidParam("X-Workspace-Id must be a workspace id") from exc
        membership = memberships.filter(workspace_id=wanted).first()
        if membership is None:
            # Same answer whether the workspace exists or not: nothing leaks across tenants.
            raise NotFound("workspace not found")
        return membership
    membership = memberships.order_by("created_at").first()
    if membership is None:
        raise Forbidden("your account is not a member of any workspace")
    return membership


def members_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user").order_by("created_at")


def api_keys_list(*, workspace: Workspace, key_type: str | None = None) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.for_workspace(workspace).select_related("app")
    return keys.filter(type=key_type) if key_type else keys
