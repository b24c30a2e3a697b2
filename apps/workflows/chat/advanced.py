"""advanced-chat (chatflow) apps: the workflow run as a chat stream.

Workflow events keep Dify's workflow payloads with ``message_id``, ``conversation_id`` and
``created_at`` added; answer text (engine ``TextChunk``) becomes ``message`` events; after
``workflow_finished`` comes ``message_end`` (or ``error`` when the run failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from apps.core.errors import AppError
from apps.workflows.engine import events as ev
from apps.workflows.models import Message
from apps.workflows.moderation import Moderation, OutputGuard
from apps.workflows.payloads import event_payload
from apps.workflows.run_services import WorkflowRunHandle

from .records import cost_of_usages, message_finish, usage_payload
from .simple import replace_event
from .task import ChatTask

logger = logging.getLogger(__name__)


def advanced_run(handle: WorkflowRunHandle, moderation: Moderation | None = None) -> Any:
    """The ``run`` of a ChatTask for a chatflow whose run ``handle`` was started. With an
    output ``moderation`` (the workflow's ``features.sensitive_word_avoidance``) a flagged
    answer stops the run and is replaced (``message_replace``), as in the simple modes."""

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        ids = task.ids()
        parts: list[str] = []
        prompt_tokens = completion_tokens = 0
        usages: list[dict[str, Any]] = []
        guard = OutputGuard(moderation) if moderation is not None else None
        crashed = False
        workflow_id = str(handle.workflow.pk)
        try:
            for event in handle.events():
                if isinstance(event, ev.TextChunk):
                    parts.append(event.text)
                    if guard is not None and guard.feed("".join(parts)):
                        task.stop.set()  # the run ends at its next step; nothing more is sent
                    if guard is not None and guard.flagged:
                        continue
                    yield {
                        "event": "message", **ids, "id": task.message_id, "answer": event.text,
                        "from_variable_selector": list(event.selector),
                    }  # fmt: skip
                    continue
                if isinstance(event, ev.NodeFinished) and event.usage:
                    prompt_tokens += int(event.usage.get("prompt_tokens") or 0)
                    completion_tokens += int(event.usage.get("completion_tokens") or 0)
                    usages.append(dict(event.usage))
                payload = event_payload(
                    event, task_id=task.task_id, workflow_run_id=handle.id, workflow_id=workflow_id
                )
                if payload is not None and payload["event"] != "text_chunk":
                    yield {"event": payload.pop("event"), **ids, **payload}
        except Exception:
            logger.exception("chatflow run failed")
            crashed = True
        finished = handle.finished
        answer = "".join(parts)
        if not answer and finished is not None:
            answer = str((finished.outputs or {}).get("answer") or "")
        failure: AppError | None = None
        status = Message.Status.NORMAL
        if crashed or finished is None:
            status = Message.Status.ERROR
            failure = AppError("Run failed: the run was interrupted", code="internal_server_error",
                               status=500)  # fmt: skip
        elif finished.status == "stopped" and not (guard is not None and guard.flagged):
            status = Message.Status.STOPPED
        elif finished.status == "failed":
            status = Message.Status.ERROR
            failure = AppError(f"Run failed: {finished.error or 'unknown error'}",
                               code="invalid_param", status=400)  # fmt: skip
        replacement = guard.finish(answer) if guard is not None and failure is None else None
        cost = cost_of_usages(usages)
        latency = time.perf_counter() - task.started
        message_finish(
            task.message, answer=answer if replacement is None else replacement,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency=latency,
            status=status, error=failure.message if failure else "", workflow_run=handle.record,
            cost=cost,
        )  # fmt: skip
        if failure is not None:
            yield task.error_event(failure)
            return
        if replacement is not None:
            yield replace_event(task, replacement)
        usage_block = usage_payload(prompt_tokens, completion_tokens, latency, cost)
        yield {
            "event": "message_end", **ids, "id": task.message_id,
            "metadata": {"usage": usage_block, "retriever_resources": []}, "files": [],
        }  # fmt: skip

    return run
