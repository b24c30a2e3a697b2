"""Conversation and message records of a chat run, and the usage block Dify reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.core.errors import NotFound
from apps.providers.runtime.base import UsageCost
from apps.workflows.models import App, Conversation, EndUser, Message

from .inputs import HISTORY_MESSAGE_LIMIT

NEW_CONVERSATION_NAME = "New conversation"


class ConversationNotExists(NotFound):
    def __init__(self, message: str = "Conversation Not Exists."):
        super().__init__(message)


class MessageNotExists(NotFound):
    def __init__(self, message: str = "Message Not Exists."):
        super().__init__(message)


def conversation_get(*, app: App, end_user: EndUser | None, conversation_id: Any) -> Conversation:
    """The caller's own, not deleted conversation on this app, or 404 ``not_found``."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError as exc:
        raise ConversationNotExists() from exc
    if end_user is None:
        raise ConversationNotExists()
    found = (
        Conversation.objects.for_workspace(app.workspace_id)
        .filter(pk=pk, app=app, end_user=end_user, is_deleted=False)
        .first()
    )
    if found is None:
        raise ConversationNotExists()
    return found


def message_get(*, app: App, end_user: EndUser | None, message_id: Any) -> Message:
    try:
        pk = uuid.UUID(str(message_id))
    except ValueError as exc:
        raise MessageNotExists() from exc
    if end_user is None:
        raise MessageNotExists()
    found = (
        Message.objects.for_workspace(app.workspace_id)
        .select_related("conversation")
        .filter(pk=pk, app=app, end_user=end_user)
        .exclude(conversation__is_deleted=True)
        .first()
    )
    if found is None:
        raise MessageNotExists()
    return found


def conversation_new(
    *, app: App, end_user: EndUser, inputs: Mapping[str, Any], introduction: str
) -> Conversation:
    """A new conversation, not saved yet (``records_store``); it counts its first message."""
    return Conversation(
        workspace_id=app.workspace_id,
        app=app,
        end_user=end_user,
        name=NEW_CONVERSATION_NAME,
        inputs=dict(inputs),
        introduction=introduction,
        dialogue_count=1,
    )


def message_new(
    *,
    app: App,
    end_user: EndUser,
    conversation: Conversation | None,
    task_id: str,
    query: str,
    inputs: Mapping[str, Any],
    files: Sequence[Mapping[str, Any]],
) -> Message:
    """A new message, not saved yet (its id is known already): see ``records_store``."""
    return Message(
        workspace_id=app.workspace_id,
        app=app,
        end_user=end_user,
        conversation=conversation,
        task_id=task_id,
        query=query,
        inputs=dict(inputs),
        files=[dict(f) for f in files],
    )


def records_store(message: Message, *, new_conversation: bool) -> None:
    """Insert the message (and its conversation when new; an existing one counts it).

    The statements go out in one round trip (a psycopg pipeline, outside a transaction)
    and run as one implicit transaction: a streamed answer waits for them."""
    conversation = message.conversation
    with _one_round_trip():
        if conversation is not None and new_conversation:
            conversation.save(force_insert=True)
        message.save(force_insert=True)
        if conversation is not None and not new_conversation:
            Conversation.objects.filter(pk=conversation.pk).update(
                dialogue_count=F("dialogue_count") + 1, updated_at=timezone.now()
            )


@contextmanager
def _one_round_trip() -> Iterator[None]:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def message_finish(
    message: Message,
    *,
    answer: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency: float,
    status: str,
    error: str = "",
    cost: UsageCost | None = None,
    **extra: Any,
) -> None:
    """Store the outcome (``extra``: agent_thoughts, workflow_run)."""
    message.answer = answer
    message.message_tokens = prompt_tokens
    message.answer_tokens = completion_tokens
    message.latency = latency
    message.status = status
    message.error = error
    message.total_price = cost.total_price if cost is not None else Decimal(0)
    message.currency = cost.currency if cost is not None else "USD"
    for name, value in extra.items():
        setattr(message, name, value)
    fields = ["answer", "message_tokens", "answer_tokens", "latency", "status", "error"]
    message.save(update_fields=[*fields, "total_price", "currency", *extra, "updated_at"])


def history_turns(conversation: Conversation | None) -> list[dict[str, Any]]:
    """The conversation's turns with an answer, oldest first (Dify's memory source): each
    ``query`` and ``answer``, and ``files`` when the message came with some."""
    if conversation is None:
        return []
    rows = (
        Message.objects.for_workspace(conversation.workspace_id)
        .filter(conversation=conversation)
        .exclude(answer="")
        .order_by("-created_at")
        .values_list("query", "answer", "files")[:HISTORY_MESSAGE_LIMIT]
    )
    turns: list[dict[str, Any]] = []
    for query, answer, files in reversed(list(rows)):
        turn: dict[str, Any] = {"query": query, "answer": answer}
        if isinstance(files, list) and files:
            turn["files"] = files
        turns.append(turn)
    return turns


def usage_payload(
    prompt_tokens: int, completion_tokens: int, latency: float, cost: UsageCost | None = None
) -> dict[str, Any]:
    """Dify's ``Usage``; prices from ``cost`` (zero for a model with no price)."""
    prices = (cost or UsageCost()).fields()
    return {
        "prompt_tokens": prompt_tokens,
        "prompt_unit_price": prices["prompt_unit_price"],
        "prompt_price_unit": prices["prompt_price_unit"],
        "prompt_price": prices["prompt_price"],
        "completion_tokens": completion_tokens,
        "completion_unit_price": prices["completion_unit_price"],
        "completion_price_unit": prices["completion_price_unit"],
        "completion_price": prices["completion_price"],
        "total_tokens": prompt_tokens + completion_tokens,
        "total_price": prices["total_price"],
        "currency": prices["currency"],
        "latency": round(latency, 6),
    }


def cost_of_usages(usages: Sequence[Mapping[str, Any]]) -> UsageCost | None:
    """The summed cost of node usage dicts (a chatflow's LLM nodes); None if none has one."""
    total: UsageCost | None = None
    for usage in usages:
        try:
            cost = UsageCost(
                prompt_unit_price=Decimal(str(usage.get("prompt_unit_price") or 0)),
                prompt_price_unit=Decimal(str(usage.get("prompt_price_unit") or 0)),
                prompt_price=Decimal(str(usage.get("prompt_price") or 0)),
                completion_unit_price=Decimal(str(usage.get("completion_unit_price") or 0)),
                completion_price_unit=Decimal(str(usage.get("completion_price_unit") or 0)),
                completion_price=Decimal(str(usage.get("completion_price") or 0)),
                currency=str(usage.get("currency") or "USD"),
            )
        except ArithmeticError:
            continue
        total = cost if total is None else total + cost
    return total
