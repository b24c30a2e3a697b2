"""Service API for workflow apps: run (blocking / streaming), stop, run detail, logs.

Every payload a run streams is also stored in the run event store (numbered), so the
original stream and any reconnect read the same sequence.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import StreamingHttpResponse

from apps.core.errors import AppError, InvalidParam, NotFound
from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.nodes.base import RunContext
from apps.workflows.engine.ports import Ports
from apps.workflows.engine.variables import VariablePool
from apps.workflows.file_services import files_from_request
from apps.workflows.models import App, EndUser, Workflow, WorkflowRun
from apps.workflows.payloads import event_payload
from apps.workflows.run_events_sse import run_events_response
from apps.workflows.run_events_store import run_event_store
from apps.workflows.run_services import WorkflowRunHandle, graph_for, workflow_run_start
from apps.workflows.sse import error_payload
from apps.workflows.task_registry import task_registry
from apps.workflows.workflow_run_selectors import created_by, run_final_payload, ts

logger = logging.getLogger(__name__)
INTERNAL_ERROR = "The server encountered an internal error."


@dataclass
class ApiRun:
    """A run started from the Service API: ``task_id`` is for ``…/tasks/{id}/stop``."""

    handle: WorkflowRunHandle
    task_id: str
    end_user: EndUser

    @property
    def run_id(self) -> str:
        return self.handle.id


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _workflow_to_run(app: App, workflow_id: str | None) -> Workflow:
    if workflow_id is None:
        if app.published_workflow is None:
            raise InvalidParam("Workflow not published")
        return app.published_workflow
    if _uuid(workflow_id) is None:
        raise AppError(f"Invalid workflow_id format: {workflow_id}", code="bad_request")
    workflow = (
        Workflow.objects.for_workspace(app.workspace_id).filter(app=app, pk=workflow_id).first()
    )
    if workflow is None:
        raise NotFound(f"Workflow not found with id: {workflow_id}")
    if workflow.version == Workflow.DRAFT:
        raise AppError(
            f"Cannot use draft workflow version. Workflow ID: {workflow_id}. "
            "Please use a published workflow version or leave workflow_id empty.",
            code="bad_request",
        )
    return workflow


def _check_inputs(app: App, workflow: Workflow, inputs: Mapping[str, Any]) -> None:
    """The start node's own rules (required, type, length, options), before any run."""
    graph = graph_for(workflow, app.mode)
    start = graph.node(graph.root.root_id or "")
    if start.node_type != "start":
        return
    pool = VariablePool.build(inputs=inputs, start_node_id=start.id)
    try:
        start.run(pool, RunContext(ports=Ports()))
    except NodeError as exc:
        raise InvalidParam(str(exc)) from exc


def workflow_api_run_start(
    *,
    app: App,
    end_user: EndUser,
    inputs: Any,
    files: Any = None,
    workflow_id: str | None = None,
) -> ApiRun:
    """Check the request, create the run record and register its task (nothing runs yet)."""
    if not isinstance(inputs, Mapping):
        raise InvalidParam("inputs is required and must be an object")
    engine_files = files_from_request(app=app, end_user=end_user, files_field=files)
    workflow = _workflow_to_run(app, workflow_id)
    _check_inputs(app, workflow, inputs)
    task_id = str(uuid.uuid4())
    user = end_user.session_id
    stop = task_registry().register(task_id, app_id=str(app.pk), user=user)
    try:
        handle = workflow_run_start(
            app=app, inputs=inputs, user_id=user, files=engine_files, stop=stop,
            workflow=workflow, triggered_from="app-run",
        )  # fmt: skip
    except BaseException:
        task_registry().finish(task_id)
        raise
    return ApiRun(handle=handle, task_id=task_id, end_user=end_user)


def _drive(run: ApiRun) -> Iterator[dict[str, Any]]:
    """Run the workflow; store and yield each Dify payload (the last one is terminal)."""
    handle, store = run.handle, run_event_store()
    ids = {"task_id": run.task_id, "workflow_run_id": run.run_id}
    final: dict[str, Any] | None = None
    try:
        for event in handle.events():
            payload = event_payload(event, workflow_id=str(handle.workflow.pk), **ids)
            if payload is None:
                continue
            if payload["event"] == "workflow_finished":
                payload["data"]["created_by"] = created_by(run.end_user)
                final = payload  # sent once the run record is saved (the generator's end)
                continue
            store.append(run.run_id, payload)
            yield payload
        if final is not None:
            store.append(run.run_id, final)
            yield final
    except Exception:
        logger.exception("workflow run %s failed", run.run_id)
        payload = error_payload("internal_server_error", INTERNAL_ERROR, 500, **ids)
        store.append(run.run_id, payload)
        yield payload
    finally:
        task_registry().finish(run.task_id)
        store.close(run.run_id)


def workflow_api_run_blocking(run: ApiRun) -> dict[str, Any]:
    """Drive the run to its end here; Dify's WorkflowBlockingResponse."""
    last: dict[str, Any] = {}
    for payload in _drive(run):
        last = payload
    if last.get("event") != "workflow_finished":
        raise AppError(INTERNAL_ERROR, code="internal_server_error", status=500)
    record = run.handle.record
    data = dict(last["data"])
    data["created_at"] = ts(record.created_at)
    data["finished_at"] = ts(record.finished_at)
    return {"task_id": run.task_id, "workflow_run_id": run.run_id, "data": data}


def workflow_api_run_in_background(run: ApiRun) -> None:
    """Drive the run in its own thread; readers follow it through the event store. It runs
    to the end even when every reader has gone (Dify's behaviour)."""

    def work() -> None:
        try:
            for _payload in _drive(run):
                pass
        finally:
            connections.close_all()  # this thread's connections only

    threading.Thread(target=work, name=f"workflow-run-{run.run_id}", daemon=True).start()


def workflow_api_stop(*, app: App, task_id: str, user: str) -> None:
    """Ask a running task to stop. Only its own (app, user) can; like Dify, anything else
    (unknown task, another user) is silently ignored."""
    task_registry().request_stop(task_id, app_id=str(app.pk), user=user)


def run_events_stream(run: WorkflowRun, *, after: int = 0) -> StreamingHttpResponse:
    """SSE of the run's events after sequence number ``after`` (``id:`` on each frame),
    following the run until it ends."""
    workspace_id, run_id = run.workspace_id, str(run.pk)
    return run_events_response(
        run_id,
        after=after,
        finished=lambda: run_final_payload(workspace_id=workspace_id, run_id=run_id),
        max_seconds=float(settings.WORKFLOW_MAX_EXECUTION_TIME) + 60.0,
    )


def parse_last_event_id(value: str | None) -> int:
    if value in (None, ""):
        return 0
    try:
        seq = int(str(value).strip())
    except ValueError as exc:
        raise InvalidParam("Last-Event-ID must be a non-negative integer") from exc
    if seq < 0:
        raise InvalidParam("Last-Event-ID must be a non-negative integer")
    return seq
