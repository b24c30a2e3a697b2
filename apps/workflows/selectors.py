from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.core.errors import NotFound
from apps.tenants.models import Workspace
from apps.workflows.models import App, EndUser, WorkflowRun


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


class EndUserNotFound(NotFound):
    code = "end_user_not_found"

    def __init__(self, message: str = "End user not found."):
        super().__init__(message)


def end_user_get(*, app: App, end_user_id: str) -> EndUser:
    """An end user of ``app`` by id (``GET /v1/end-users/{id}``), or 404 end_user_not_found."""
    try:
        pk = uuid.UUID(str(end_user_id))
    except ValueError as exc:
        raise EndUserNotFound() from exc
    found = EndUser.objects.for_workspace(app.workspace_id).filter(pk=pk, app=app).first()
    if found is None:
        raise EndUserNotFound()
    return found


def end_user_detail(end_user: EndUser) -> dict[str, object]:
    """Dify's EndUserDetail."""
    return {
        "id": str(end_user.pk),
        "tenant_id": str(end_user.workspace_id),
        "app_id": str(end_user.app_id),
        "type": end_user.type,
        "external_user_id": None,
        "name": None,
        "is_anonymous": end_user.is_anonymous,
        "session_id": end_user.session_id,
        "created_at": end_user.created_at.isoformat(),
        "updated_at": end_user.updated_at.isoformat(),
    }
