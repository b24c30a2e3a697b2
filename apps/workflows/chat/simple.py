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


def simple_run(call: ModelCall) -> Any:
    """The ``run`` of a ChatTask for the simple modes."""

    def run(task: ChatTask) -> Iterator[dict[str, Any]]:
        parts: list[str] = []
        usage: Usage | None = None
        status, failure = Message.Status.NORMAL, None
        runtime = WorkspaceModelRuntime(task.app.workspace)
        stream = runtime.chat_stream(
            call.messages, provider=call.provider, model=call.model,
            parameters=call.parameters, stop=call.stop or None, user=str(task.end_user.pk),
        )  # fmt: skip
        try:
            for chunk in stream:
                if not task.stored():  # the records may still be on their way (see task.py)
                    return
                if task.stop.is_set():
                    status = Message.Status.STOPPED
                    break
                if chunk.delta:
                    parts.append(chunk.delta)
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
        latency = time.perf_counter() - task.started
        if usage is not None:
            prompt_tokens, completion_tokens = usage.prompt_tokens, usage.completion_tokens
        else:
            prompt_tokens = sum(estimate_tokens(m.text()) for m in call.messages)
            completion_tokens = estimate_tokens(answer)
        message_finish(
            task.message, answer=answer, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, latency=latency, status=status,
            error=failure.message if failure else "",
        )  # fmt: skip
        if failure is not None:
            yield task.error_event(failure)
            return
        usage_block = usage_payload(prompt_tokens, completion_tokens, latency)
        yield {
            "event": "message_end", **task.ids(), "id": task.message_id,
            "metadata": {"usage": usage_block, "retriever_resources": []}, "files": [],
        }  # fmt: skip

    return run
