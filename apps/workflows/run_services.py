"""Publishing and running workflows, with each run and node execution recorded."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from apps.core.errors import AppError, InvalidParam
from apps.workflows.adapters import ports_for
from apps.workflows.dsl_services import environment_for_run
from apps.workflows.engine import events as ev
from apps.workflows.engine.errors import GraphValidationError
from apps.workflows.engine.graph import Graph, parse_graph
from apps.workflows.engine.runner import GraphRunner, RunLimits
from apps.workflows.engine.variables import VariablePool
from apps.workflows.models import (
    App,
    ConversationVariableSet,
    NodeExecution,
    Workflow,
    WorkflowRun,
)

GRAPH_MODES = ("workflow", "advanced-chat")


@transaction.atomic
def workflow_publish(*, app: App, created_by: User | None = None) -> Workflow:
    draft = (
        Workflow.objects.for_workspace(app.workspace_id)
        .filter(app=app, version=Workflow.DRAFT)
        .first()
    )
    if draft is None:
        raise InvalidParam("the app has no draft workflow to publish")
    try:
        parse_graph(draft.graph, mode=app.mode)
    except GraphValidationError as exc:
        raise InvalidParam("workflow.graph: " + "; ".join(exc.problems)) from exc
    published = Workflow.objects.create(
        workspace_id=app.workspace_id,
        app=app,
        type=draft.type,
        version=timezone.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        graph=draft.graph,
        features=draft.features,
        environment_variables=draft.environment_variables,
        conversation_variables=draft.conversation_variables,
        created_by=created_by,
    )
    app.published_workflow = published
    app.save(update_fields=["published_workflow", "updated_at"])
    return published


def workflow_for_run(*, app: App, draft: bool = False) -> Workflow:
    if app.mode not in GRAPH_MODES:
        raise AppError(f"{app.mode} apps have no workflow", code="app_unavailable")
    if not draft and app.published_workflow is not None:
        return app.published_workflow
    workflow = (
        Workflow.objects.for_workspace(app.workspace_id)
        .filter(app=app, version=Workflow.DRAFT)
        .first()
    )
    if workflow is None:
        raise AppError("the app has no workflow", code="app_unavailable")
    return workflow


_graphs: dict[tuple[str, float, str], Graph] = {}
_GRAPH_CACHE_SIZE = 64


def graph_for(workflow: Workflow, mode: str) -> Graph:
    """The parsed graph of a workflow version, parsed once per (version, last save, mode)."""
    key = (str(workflow.pk), workflow.updated_at.timestamp(), mode)
    graph = _graphs.get(key)
    if graph is None:
        try:
            graph = parse_graph(workflow.graph, mode=mode)
        except GraphValidationError as exc:
            raise AppError(
                "workflow.graph: " + "; ".join(exc.problems), code="invalid_param"
            ) from exc
        if len(_graphs) >= _GRAPH_CACHE_SIZE:
            _graphs.pop(next(iter(_graphs)))
        _graphs[key] = graph
    return graph


class WorkflowRunHandle:
    """A started run: iterate ``events()`` to drive it; ``record`` is the stored run."""

    def __init__(
        self,
        *,
        app: App,
        workflow: Workflow,
        record: WorkflowRun,
        runner: GraphRunner,
        pool: VariablePool,
        history: Sequence[Mapping[str, str]],
        stop: threading.Event,
    ):
        self.app, self.workflow, self.record = app, workflow, record
        self.runner, self.pool, self.history, self.stop = runner, pool, history, stop
        self.finished: ev.WorkflowFinished | None = None
        self.persistence_time = 0.0
        self._rows: list[NodeExecution] = []

    @property
    def id(self) -> str:
        return str(self.record.pk)

    def events(self) -> Generator[ev.GraphEvent, None, None]:
        try:
            for event in self.runner.run(
                run_id=self.id, pool=self.pool, history=self.history, stop=self.stop,
                inputs=self.record.inputs, system=self.record.system_variables,
            ):  # fmt: skip
                if isinstance(event, ev.NodeFinished):
                    self._rows.append(self._row(event))
                elif isinstance(event, ev.WorkflowFinished):
                    self.finished = event
                yield event
        finally:
            self._save()

    def conversation_variables(self) -> dict[str, Any]:
        return self.pool.conversation_variables()

    def _row(self, event: ev.NodeFinished) -> NodeExecution:
        finished_at = timezone.now()
        return NodeExecution(
            workspace_id=self.record.workspace_id,
            run=self.record,
            node_id=event.node_id,
            node_type=event.node_type,
            title=event.title,
            index=event.index,
            predecessor_node_id=event.predecessor_node_id or "",
            parent_node_id=event.parent_id or "",
            iteration_index=event.iteration_index,
            loop_index=event.loop_index,
            status=event.status,
            inputs=_jsonable(event.inputs),
            process_data=_jsonable(event.process_data),
            outputs=_jsonable(event.outputs),
            error=event.error or "",
            elapsed_time=event.elapsed,
            total_tokens=int(event.usage.get("total_tokens") or 0),
            retries=event.retries,
            created_at=finished_at - timedelta(seconds=event.elapsed),
            finished_at=finished_at,
        )

    def _save(self) -> None:
        started = time.perf_counter()
        record = self.record
        NodeExecution.objects.bulk_create(self._rows, batch_size=500)
        self._rows = []
        finished = self.finished
        if finished is None:  # the caller stopped reading: the run was abandoned
            record.status = WorkflowRun.Status.STOPPED
            record.error = "the run was interrupted before it finished"
        else:
            record.status = finished.status
            record.outputs = _jsonable(finished.outputs)
            record.error = finished.error or ""
            record.elapsed_time = finished.elapsed
            record.node_time = finished.node_time
            record.engine_time = finished.engine_time
            record.total_tokens = finished.total_tokens
            record.total_steps = finished.total_steps
            record.exceptions_count = finished.exceptions_count
        record.finished_at = timezone.now()
        conversation_id = str(record.system_variables.get("conversation_id") or "")
        if conversation_id and finished is not None and finished.status != "failed":
            ConversationVariableSet.objects.update_or_create(
                workspace_id=record.workspace_id,
                app_id=record.app_id,
                conversation_id=conversation_id,
                defaults={"values": _jsonable(self.pool.conversation_variables())},
            )
        self.persistence_time += time.perf_counter() - started
        record.persistence_time = self.persistence_time
        record.save()


def workflow_run_start(
    *,
    app: App,
    inputs: Mapping[str, Any],
    user_id: str = "",
    account: User | None = None,
    draft: bool = False,
    triggered_from: str = "app-run",
    query: str = "",
    files: Sequence[Mapping[str, Any]] = (),
    conversation_id: str = "",
    conversation_variables: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, str]] = (),
    stop: threading.Event | None = None,
    workflow: Workflow | None = None,
) -> WorkflowRunHandle:
    if not isinstance(inputs, Mapping):
        raise InvalidParam("inputs must be an object")
    workflow = workflow or workflow_for_run(app=app, draft=draft)
    graph = graph_for(workflow, app.mode)
    started = time.perf_counter()
    run_id = str(uuid.uuid4())
    system = {
        "query": query,
        "files": list(files),
        "conversation_id": conversation_id,
        "user_id": user_id or (str(account.pk) if account else ""),
        "app_id": str(app.pk),
        "workflow_id": str(workflow.pk),
        "workflow_run_id": run_id,
        "dialogue_count": len(history) + 1,
    }
    record = WorkflowRun.objects.create(
        id=run_id,
        workspace_id=app.workspace_id,
        app=app,
        workflow=workflow,
        triggered_from=triggered_from,
        inputs=_jsonable(dict(inputs)),
        system_variables=_jsonable(system),
        created_by_account=account,
        created_by_end_user=user_id,
    )
    defaults = {v.get("name"): v.get("value") for v in workflow.conversation_variables or []}
    stored: dict[str, Any] = {}
    if conversation_id:
        found = (
            ConversationVariableSet.objects.for_workspace(app.workspace_id)
            .filter(app=app, conversation_id=conversation_id)
            .first()
        )
        stored = found.values if found else {}
    pool = VariablePool.build(
        system=system,
        environment=environment_for_run(workflow),
        conversation={**defaults, **stored, **(conversation_variables or {})},
        inputs=inputs,
        start_node_id=graph.root.root_id,
    )
    runner = GraphRunner(
        graph,
        ports=ports_for(app.workspace),
        limits=RunLimits(
            max_steps=settings.WORKFLOW_MAX_EXECUTION_STEPS,
            max_seconds=settings.WORKFLOW_MAX_EXECUTION_TIME,
            max_workers=settings.WORKFLOW_PARALLEL_DEPTH_LIMIT,
        ),
        mode="workflow" if app.mode == "workflow" else "advanced-chat",
    )
    handle = WorkflowRunHandle(
        app=app, workflow=workflow, record=record, runner=runner, pool=pool,
        history=history, stop=stop or threading.Event(),
    )  # fmt: skip
    handle.persistence_time = time.perf_counter() - started
    return handle


def workflow_rerun(*, run: WorkflowRun, account: User | None = None) -> WorkflowRunHandle:
    """Run the same workflow version again with the stored inputs."""
    system = run.system_variables or {}
    return workflow_run_start(
        app=run.app,
        workflow=run.workflow,  # exactly the version that ran before
        inputs=run.inputs,
        user_id=str(system.get("user_id") or run.created_by_end_user or ""),
        account=account,
        triggered_from="rerun",
        query=str(system.get("query") or ""),
        files=system.get("files") or [],
    )


def _jsonable(value: Any) -> Any:
    """What can be stored in a JSON column (bytes and odd objects become text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
