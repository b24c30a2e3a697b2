from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.tenants.models import Workspace
from apps.workflows.models import App


def app_get(*, workspace: Workspace, app_id: str | uuid.UUID) -> App:
    try:
        return App.objects.for_workspace(workspace).get(pk=uuid.UUID(str(app_id)))
    except (ValueError, App.DoesNotExist) as exc:
        raise NotFound("app not found") from exc


def apps_list(*, workspace: Workspace) -> QuerySet[App]:
    return App.objects.for_workspace(workspace).order_by("-created_at")
