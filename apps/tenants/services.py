"""Writes for workspaces, accounts, memberships and API keys (``<thing>_<verb>``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apps.core.errors import Forbidden, InvalidParam, NotFound
from apps.tenants import keys
from apps.tenants.models import ApiKey, Membership, Workspace
from apps.tenants.roles import Role

if TYPE_CHECKING:
    from apps.workflows.models import App

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class AccountResult:
    user: User
    created: bool
    generated_password: str | None  # set only when we made one up: show it once


def account_get_or_create(*, email: str, password: str | None = None) -> AccountResult:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidParam(f"{email!r} is not a valid email address") from exc
    user_model = get_user_model()
    user = user_model.objects.filter(username=email).first()
    generated = None
    created = user is None
    if user is None:
        generated = None if password else secrets.token_urlsafe(12)
        user = user_model.objects.create_user(
            username=email, email=email, password=password or generated
        )
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return AccountResult(user=user, created=created, generated_password=generated)


@transaction.atomic
def workspace_create(
    *, name: str, owner_email: str, owner_password: str | None = None
) -> tuple[Workspace, AccountResult]:
    name = name.strip()
    if not name:
        raise InvalidParam("workspace name must not be empty")
    account = account_get_or_create(email=owner_email, password=owner_password)
    workspace = Workspace.objects.create(name=name)
    Membership.objects.create(workspace=workspace, user=account.user, role=Role.OWNER)
    return workspace, account


@transaction.atomic
def member_add(*, workspace: Workspace, email: str, role: str) -> Membership:
    role = _checked_role(role)
    if role == Role.OWNER:
        raise InvalidParam("a workspace has one owner; transfer ownership instead")
    account = account_get_or_create(email=email)
    membership, created = Membership.objects.get_or_create(
        workspace=workspace, user=account.user, defaults={"role": role}
    )
    if not created:
        raise InvalidParam(f"{email} is already a member of this workspace")
    return membership


@transaction.atomic
def member_set_role(*, workspace: Workspace, membership_id: str, role: str) -> Membership:
    role = _checked_role(role)
    membership = _membership_get(workspace=workspace, membership_id=membership_id)
    if membership.role == Role.OWNER or role == Role.OWNER:
        raise Forbidden("the owner's role cannot be changed here")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def member_remove(*, workspace: Workspace, membership_id: str) -> None:
    membership = _membership_get(workspace=workspace, membership_id=membership_id)
    if membership.role == Role.OWNER:
        raise Forbidden("the owner cannot be removed from the workspace")
    membership.delete()


def _membership_get(*, workspace: Workspace, membership_id: str) -> Membership:
    try:
        return Membership.objects.for_workspace(workspace).get(pk=membership_id)
    except (Membership.DoesNotExist, ValidationError) as exc:
        raise NotFound("member not found") from exc


def _checked_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidParam(f"unknown role {role!r}; use one of: {allowed}") from exc


def api_key_create(
    *,
    workspace: Workspace,
    key_type: str,
    app: App | None = None,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and only its hash is stored."""
    if key_type == ApiKey.KeyType.APP:
        if app is None:
            raise InvalidParam("an app key needs an app")
        if app.workspace_id != workspace.pk:
            raise NotFound("app not found")
    elif key_type == ApiKey.KeyType.DATASET:
        if app is not None:
            raise InvalidParam("a dataset key is bound to the workspace, not to an app")
    else:
        raise InvalidParam("key type must be 'app' or 'dataset'")
    raw = keys.generate_key(key_type)
    api_key = ApiKey.objects.create(
        workspace=workspace,
        app=app,
        type=key_type,
        key_hash=keys.hash_key(raw),
        prefix=keys.display_prefix(raw),
        created_by=created_by,
    )
    return api_key, raw


def api_key_delete(*, workspace: Workspace, key_id: str) -> None:
    try:
        deleted, _ = ApiKey.objects.for_workspace(workspace).filter(pk=key_id).delete()
    except ValidationError as exc:
        raise NotFound("api key not found") from exc
    if not deleted:
        raise NotFound("api key not found")


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The key row for a raw key, with its workspace and app; None if unknown."""
    if keys.key_type_of(raw_key) is None:
        return None
    api_key = (
        ApiKey.objects.select_related("workspace", "app")
        .filter(key_hash=keys.hash_key(raw_key))
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
