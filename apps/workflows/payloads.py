"""Engine events as Dify's stream payloads (``{"event", "task_id", "workflow_run_id",
"data"}``). The SSE writer, the WebSocket consumer and ``run_workflow`` all use this."""

from __future__ import annotations

import time
from typing import Any

from apps.workflows.engine import events as ev


def _now() -> int:
    return int(time.time())


def _container_ids(event: Any) -> dict[str, Any]:
    parent = getattr(event, "parent_id", None)
    is_loop = getattr(event, "loop_index", None) is not None
    return {
        "iteration_id": parent if parent and not is_loop else None,
        "loop_id": parent if parent and is_loop else None,
    }


def event_payload(
    event: ev.GraphEvent, *, task_id: str, workflow_run_id: str, workflow_id: str = ""
) -> dict[str, Any] | None:
    """Dify's payload for an engine event, or None for events that are not sent."""
    base = {"task_id": task_id, "workflow_run_id": workflow_run_id}
    now = _now()
    if isinstance(event, ev.WorkflowStarted):
        data: dict[str, Any] = {
            "id": workflow_run_id, "workflow_id": workflow_id, "inputs": event.inputs,
            "created_at": now, "reason": "initial",
        }  # fmt: skip
        return {"event": "workflow_started", **base, "data": data}
    if isinstance(event, ev.WorkflowFinished):
        data = {
            "id": workflow_run_id, "workflow_id": workflow_id, "status": event.status,
            "outputs": event.outputs, "error": event.error,
            "elapsed_time": round(event.elapsed, 6), "total_tokens": event.total_tokens,
            "total_steps": event.total_steps, "created_at": now - int(event.elapsed),
            "finished_at": now, "exceptions_count": event.exceptions_count, "files": [],
            "created_by": {},
        }  # fmt: skip
        return {"event": "workflow_finished", **base, "data": data}
    if isinstance(event, ev.NodeStarted):
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.node_type,
            "title": event.title, "index": event.index,
            "predecessor_node_id": event.predecessor_node_id, "inputs": None,
            "created_at": now, "extras": {}, **_container_ids(event),
        }  # fmt: skip
        return {"event": "node_started", **base, "data": data}
    if isinstance(event, ev.NodeFinished):
        metadata: dict[str, Any] = {}
        if event.usage:
            metadata["total_tokens"] = event.usage.get("total_tokens", 0)
            metadata["total_price"] = event.usage.get("total_price", "0")
            metadata["currency"] = event.usage.get("currency", "USD")
        if event.iteration_index is not None:
            metadata["iteration_index"] = event.iteration_index
        if event.loop_index is not None:
            metadata["loop_index"] = event.loop_index
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.node_type,
            "title": event.title, "index": event.index,
            "predecessor_node_id": event.predecessor_node_id, "inputs": event.inputs,
            "process_data": event.process_data, "outputs": event.outputs,
            "status": event.status, "error": event.error,
            "elapsed_time": round(event.elapsed, 6), "execution_metadata": metadata or None,
            "created_at": now - int(event.elapsed), "finished_at": now, "files": [],
            **_container_ids(event),
        }  # fmt: skip
        return {"event": "node_finished", **base, "data": data}
    if isinstance(event, ev.NodeRetry):
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.node_type,
            "title": event.title, "index": 0, "predecessor_node_id": None, "inputs": None,
            "process_data": None, "outputs": None, "status": "retry", "error": event.error,
            "elapsed_time": 0, "created_at": now, "finished_at": now,
            "retry_index": event.retry_index, "files": [], "execution_metadata": None,
            "iteration_id": None, "loop_id": None,
        }  # fmt: skip
        return {"event": "node_retry", **base, "data": data}
    if isinstance(event, ev.TextChunk):
        return {
            "event": "text_chunk", **base,
            "data": {"text": event.text, "from_variable_selector": list(event.selector)},
        }  # fmt: skip
    if isinstance(event, ev.ContainerStarted):
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.kind,
            "title": event.title, "created_at": now, "extras": {}, "metadata": event.metadata,
            "inputs": event.inputs,
        }  # fmt: skip
        return {"event": f"{event.kind}_started", **base, "data": data}
    if isinstance(event, ev.ContainerNext):
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.kind,
            "title": event.title, "index": event.index, "created_at": now, "extras": {},
        }  # fmt: skip
        if event.kind == "loop":
            data["pre_loop_output"] = event.pre_output
        return {"event": f"{event.kind}_next", **base, "data": data}
    if isinstance(event, ev.ContainerFinished):
        data = {
            "id": event.execution_id, "node_id": event.node_id, "node_type": event.kind,
            "title": event.title, "outputs": event.outputs, "inputs": event.inputs,
            "created_at": now - int(event.elapsed), "extras": {}, "status": event.status,
            "error": event.error, "elapsed_time": round(event.elapsed, 6),
            "total_tokens": int(event.usage.get("total_tokens") or 0),
            "execution_metadata": {}, "finished_at": now, "steps": event.steps,
        }  # fmt: skip
        return {"event": f"{event.kind}_completed", **base, "data": data}
    if isinstance(event, ev.AgentLog):
        data = {
            "node_execution_id": event.execution_id, "id": event.execution_id,
            "label": event.label, "parent_id": None, "error": None, "status": "success",
            "data": event.data, "metadata": {}, "node_id": event.node_id,
        }  # fmt: skip
        return {"event": "agent_log", **base, "data": data}
    return None
