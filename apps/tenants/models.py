"""Workspaces (Dify's tenants), memberships with roles, and hashed API keys."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.tenants.roles import ROLE_CHOICES, Permission, role_allows

if TYPE_CHECKING:
    from apps.workflows.models import App


class WorkspaceScopedQuerySet(models.QuerySet):
    """Tenant data is read through ``for_workspace`` so no query forgets the tenant."""

    def for_workspace(self, workspace: Workspace | uuid.UUID | str) -> WorkspaceScopedQuerySet:
        workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
        return self.filter(workspace_id=workspace_id)


class WorkspaceScoped(models.Model):
    """Base for every model that belongs to one workspace."""

    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class Workspace(models.Model):
    class Status(models.TextChoices):
        NORMAL = "normal"
        ARCHIVE = "archive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(role="owner"), name="membership_one_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def allows(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)


class ApiKey(models.Model):
    """A Service API key: ``app-…`` (one app) or ``dataset-…`` (the workspace's datasets)."""

    class KeyType(models.TextChoices):
        APP = "app"
        DATASET = "dataset"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    app: models.ForeignKey[App | None, Any] = models.ForeignKey(
        "workflows.App", on_delete=models.CASCADE, null=True, blank=True, related_name="api_keys"
    )
    type = models.CharField(max_length=16, choices=KeyType.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=32, editable=False, help_text="Shown instead of the key")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(type="app", app__isnull=False) | Q(type="dataset", app__isnull=True)),
                name="apikey_app_iff_app_type",
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prefix
