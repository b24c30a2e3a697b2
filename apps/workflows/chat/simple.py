"""chat and completion apps: one streamed model call on the app's model_config
(agent-chat apps run the agent loop: chat/agent.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.core.errors import AppError
from apps.providers.runtime.base import ChatMessage, Usage, estimate_tokens
from apps.providers.services import WorkspaceModelRuntime
from apps.workflows.models import Message
from apps.workflows.moderation import REPLACE_REASON, Moderation, OutputGuard

from .records import message_finish, usage_payload
from .task import ChatTask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCall:
    provider: str | None
    model: str | None
    parameters: dict[str, Any]
    stop: list[str] | None
    messages: Sequence[ChatMessage]


def model_call_params(completion_params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Dify's completion_params: ``stop`` is passed apart from the other parameters."""
    parameters = {k: v for k, v in completion_params.items() if k != "stop" and v is not None}
    stop = completion_params.get("stop") or []
    return parameters, [str(s) for s in stop] if isinstance(stop, list) else []


def simple_run(call: ModelCall, moderation: Moderation | None = None) -> Any:
    """The ``run`` of a ChatTask for the simple modes. With an output ``moderation`` the
    text is checked as it grows (moderation/output.py): once it is flagged the model stream
    ends and a ``message_replace`` carries the replacement (the stored answer)."""

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        parts: list[str] = []
        usage: Usage | None = None
        status, failure = Message.Status.NORMAL, None
        guard = OutputGuard(moderation) if moderation is not None else None
        runtime = WorkspaceModelRuntime(task.app.workspace)
        stream = runtime.chat_stream(
            call.messages, provider=call.provider, model=call.model,
            parameters=call.parameters, stop=call.stop or None, user=str(task.end_user.pk),
        )  # fmt: skip
        try:
            for chunk in stream:
                if task.stop.is_set():
                    status = Message.Status.STOPPED
                    break
                if chunk.delta:
                    parts.append(chunk.delta)
                    if guard is not None and guard.feed("".join(parts)):
                        break
                    yield {
                        "event": "message",
                        **task.ids(),
                        "id": task.message_id,
                        "answer": chunk.delta,
                    }
                usage = chunk.usage or usage
        except AppError as exc:
            status, failure = Message.Status.ERROR, exc
        except Exception as exc:
            logger.exception("chat model call failed")
            status = Message.Status.ERROR
            failure = AppError(f"The model call failed: {type(exc).__name__}", status=500,
                               code="internal_server_error")  # fmt: skip
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # ends the provider's HTTP stream when stopped early
        if not task.stored():
            return
        answer = "".join(parts)
        if usage is not None:
            prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens
            cost = usage.cost
        else:
            prompt_tokens = sum(estimate_tokens(m.text()) for m in call.messages)
            completion_tokens = estimate_tokens(answer)
            cost = runtime.cost(call.provider, call.model, prompt_tokens, completion_tokens)
        replacement = guard.finish(answer) if guard is not None and failure is None else None
        if replacement is not None:
            answer = replacement
        latency = time.perf_counter() - task.started
        message_finish(
            task.message, answer=answer, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, latency=latency, status=status,
            error=failure.message if failure else "", cost=cost,
        )  # fmt: skip
        if failure is not None:
            yield task.error_event(failure)
            return
        if replacement is not None:
            yield replace_event(task, replacement)
        yield message_end(task, usage_payload(prompt_tokens, completion_tokens, latency, cost))

    return run


def message_end(task: ChatTask, usage: dict[str, Any]) -> dict[str, Any]:
    """Dify's ``message_end`` with the message's citations (stored only when shown)."""
    resources = list(task.message.retriever_resources or [])
    return {
        "event": "message_end", **task.ids(), "id": task.message_id,
        "metadata": {"usage": usage, "retriever_resources": resources}, "files": [],
    }  # fmt: skip


def replace_event(task: ChatTask, answer: str) -> dict[str, Any]:
    """Dify's ``message_replace``: the answer shown instead of what was streamed."""
    return {"event": "message_replace", **task.ids(), "answer": answer, "reason": REPLACE_REASON}


def direct_run(text: str) -> Any:
    """The ``run`` that answers ``text`` without a model call (flagged inputs: Dify's
    direct output of the moderation's preset response), stored as the answer."""

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        if not task.stored():
            return
        if text:
            yield {"event": "message", **task.ids(), "id": task.message_id, "answer": text}
        latency = time.perf_counter() - task.started
        message_finish(
            task.message, answer=text, prompt_tokens=0, completion_tokens=0, latency=latency,
            status=Message.Status.NORMAL,
        )  # fmt: skip
        yield message_end(task, usage_payload(0, 0, latency))

    return run
