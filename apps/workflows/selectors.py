from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.tenants.models import Workspace
from apps.workflows.models import App, WorkflowRun


def app_get(*, workspace: Workspace, app_id: str | uuid.UUID) -> App:
    try:
        return App.objects.for_workspace(workspace).get(pk=uuid.UUID(str(app_id)))
    except (ValueError, App.DoesNotExist) as exc:
        raise NotFound("app not found") from exc


def apps_list(*, workspace: Workspace) -> QuerySet[App]:
    return App.objects.for_workspace(workspace).order_by("-created_at")


def app_get_for_operator(app_id: str | uuid.UUID) -> App:
    """Any workspace's app by id: for operator commands only (never for API requests)."""
    try:
        pk = uuid.UUID(str(app_id))
    except ValueError as exc:
        raise NotFound(f"app {app_id!r} not found") from exc
    app = App.objects.select_related("workspace", "published_workflow").filter(pk=pk).first()
    if app is None:
        raise NotFound(f"app {app_id!r} not found")
    return app


def run_get_for_operator(run_id: str | uuid.UUID) -> WorkflowRun:
    try:
        pk = uuid.UUID(str(run_id))
    except ValueError as exc:
        raise NotFound(f"run {run_id!r} not found") from exc
    run = WorkflowRun.objects.select_related("app", "workflow").filter(pk=pk).first()
    if run is None:
        raise NotFound(f"run {run_id!r} not found")
    return run
