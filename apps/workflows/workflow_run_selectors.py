"""Reads of workflow runs for the Service API: run detail, logs, final state."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from apps.core.errors import NotFound
from apps.workflows.models import App, EndUser, WorkflowRun

NOT_FOUND = "Workflow run not found."


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def created_by(end_user: EndUser) -> dict[str, Any]:
    """Dify's ``created_by`` of a run started by an end user."""
    return {"id": str(end_user.pk), "user": end_user.session_id}


def run_get(*, app: App, run_id: str) -> WorkflowRun:
    """A run of this app (any other id, or another app's run, is not found)."""
    try:
        uuid.UUID(str(run_id))
    except ValueError:
        raise NotFound(NOT_FOUND) from None
    run = WorkflowRun.objects.for_workspace(app.workspace_id).filter(app=app, pk=run_id).first()
    if run is None:
        raise NotFound(NOT_FOUND)
    return run


def run_get_for_user(*, app: App, run_id: str, user: str) -> WorkflowRun:
    """A run of this app started by this ``user``; others' runs do not exist for them."""
    run = run_get(app=app, run_id=run_id)
    if run.created_by_end_user != user:
        raise NotFound(NOT_FOUND)
    return run


def run_detail(run: WorkflowRun) -> dict[str, Any]:
    """Dify's WorkflowRunDetailResponse (``inputs`` is JSON text with the sys values)."""
    system = {f"sys.{k}": v for k, v in (run.system_variables or {}).items()}
    return {
        "id": str(run.pk),
        "workflow_id": str(run.workflow_id),
        "status": run.status,
        "inputs": json.dumps({**(run.inputs or {}), **system}, ensure_ascii=False),
        "outputs": run.outputs or {},
        "error": run.error or None,
        "total_steps": run.total_steps,
        "total_tokens": run.total_tokens,
        "created_at": ts(run.created_at),
        "finished_at": ts(run.finished_at),
        "elapsed_time": run.elapsed_time,
    }


def run_finished_payload(run: WorkflowRun) -> dict[str, Any]:
    """``workflow_finished`` built from the stored record (runs with no stored events)."""
    data = {k: v for k, v in run_detail(run).items() if k != "inputs"}
    end_user = _end_users(run.app, [run]).get(run.created_by_end_user)
    data |= {
        "exceptions_count": run.exceptions_count,
        "files": [],
        "created_by": created_by(end_user) if end_user else {},
    }
    run_id = str(run.pk)
    ids = {"task_id": run_id, "workflow_run_id": run_id}
    return {"event": "workflow_finished", **ids, "data": data}


def run_final_payload(*, workspace_id: Any, run_id: str) -> dict[str, Any] | None:
    """For a reader following a run: None while it goes on, else its final payload."""
    run = (
        WorkflowRun.objects.for_workspace(workspace_id)
        .select_related("app")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return {"event": "error", "workflow_run_id": run_id, "status": 404,
                "code": "not_found", "message": NOT_FOUND}  # fmt: skip
    if run.finished_at is None and run.status == WorkflowRun.Status.RUNNING:
        return None
    return run_finished_payload(run)


def _end_users(app: App, runs: list[WorkflowRun]) -> dict[str, EndUser]:
    sessions = {r.created_by_end_user for r in runs if r.created_by_end_user}
    if not sessions:
        return {}
    found = EndUser.objects.for_workspace(app.workspace_id).filter(app=app, session_id__in=sessions)
    return {u.session_id: u for u in found}


def _account(account: Any) -> dict[str, Any]:
    name = account.get_full_name() or account.username
    return {"id": str(account.pk), "name": name, "email": account.email}


def _end_user(end_user: EndUser) -> dict[str, Any]:
    return {
        "id": str(end_user.pk),
        "type": end_user.type,
        "is_anonymous": False,  # the Service API always names its user
        "session_id": end_user.session_id,
    }


def _log_item(run: WorkflowRun, end_user: EndUser | None) -> dict[str, Any]:
    account = run.created_by_account
    return {
        "id": str(run.pk),
        "workflow_run": {
            "id": str(run.pk),
            "version": run.workflow.version,
            "status": run.status,
            "error": run.error or None,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_at": ts(run.created_at),
            "finished_at": ts(run.finished_at),
            "exceptions_count": run.exceptions_count,
            "triggered_from": run.triggered_from,
        },
        "created_from": "service-api" if run.created_by_end_user else "installed-app",
        "created_by_role": "end_user" if run.created_by_end_user else "account",
        "created_by_account": _account(account) if account is not None else None,
        "created_by_end_user": _end_user(end_user) if end_user is not None else None,
        "created_at": ts(run.created_at),
        "details": None,
    }


def workflow_logs_list(
    *,
    app: App,
    keyword: str = "",
    status: str = "",
    created_before: datetime | None = None,
    created_after: datetime | None = None,
    session_id: str = "",
    account: str = "",
    page: int = 1,
    limit: int = 20,
) -> dict[str, Any]:
    """Dify's WorkflowLogsResponse: the app's runs (not editor debug runs), newest first."""
    runs = (
        WorkflowRun.objects.for_workspace(app.workspace_id)
        .filter(app=app)
        .exclude(triggered_from="debugging")
    )
    if status:
        runs = runs.filter(status=status)
    if created_before is not None:
        runs = runs.filter(created_at__lte=created_before)
    if created_after is not None:
        runs = runs.filter(created_at__gte=created_after)
    if session_id:
        runs = runs.filter(created_by_end_user=session_id)
    if account:
        runs = runs.filter(created_by_account__email=account)
    if keyword:
        runs = runs.annotate(
            inputs_text=Cast("inputs", TextField()), outputs_text=Cast("outputs", TextField())
        ).filter(
            Q(inputs_text__icontains=keyword)
            | Q(outputs_text__icontains=keyword)
            | Q(created_by_end_user__icontains=keyword)
        )
    total = runs.count()
    offset = (page - 1) * limit
    rows = list(
        runs.select_related("workflow", "created_by_account").order_by("-created_at")[
            offset : offset + limit
        ]
    )
    end_users = _end_users(app, rows)
    return {
        "page": page,
        "limit": limit,
        "total": total,
        "has_more": offset + len(rows) < total,
        "data": [_log_item(r, end_users.get(r.created_by_end_user)) for r in rows],
    }
