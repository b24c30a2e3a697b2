"""Files uploaded through the Service API (``POST /v1/files/upload``)."""

from __future__ import annotations

import uuid

from django.db import models

from apps.tenants.models import WorkspaceScoped

from .app import App
from .chat import EndUser


def upload_path(instance: UploadFile, filename: str) -> str:
    return f"upload_files/{instance.workspace_id}/{instance.id}"


class UploadFile(WorkspaceScoped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    end_user = models.ForeignKey(
        EndUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    extension = models.CharField(max_length=32, blank=True, default="")
    mime_type = models.CharField(max_length=255, blank=True, default="")
    file = models.FileField(upload_to=upload_path, max_length=512)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
