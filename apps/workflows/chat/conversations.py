"""Reading and managing an end user's conversations, messages and feedback."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from apps.core.errors import AppError, InvalidParam, NotFound
from apps.workflows.models import App, Conversation, EndUser, Message, MessageFeedback
from apps.workflows.run_services import workflow_for_run

from .generation import conversation_title, suggested_questions
from .records import conversation_get, message_get

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at")


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def page_limit(raw: Any, default: int = 20) -> int:
    if raw in (None, ""):
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidParam("limit must be an integer") from exc
    if not 1 <= limit <= 100:
        raise InvalidParam("limit must be between 1 and 100")
    return limit


# -- conversations -----------------------------------------------------------------------------
def conversation_item(conversation: Conversation) -> dict[str, Any]:
    """Dify's ConversationListItem."""
    return {
        "id": str(conversation.pk),
        "name": conversation.name,
        "inputs": conversation.inputs or {},
        "status": conversation.status,
        "introduction": conversation.introduction,
        "created_at": _ts(conversation.created_at),
        "updated_at": _ts(conversation.updated_at),
    }


def conversations_list(
    *, app: App, end_user: EndUser | None, last_id: str | None, limit: int, sort_by: str
) -> tuple[list[Conversation], bool]:
    if sort_by not in SORTS:
        raise InvalidParam(f"sort_by must be one of {', '.join(SORTS)}")
    if end_user is None:
        return [], False
    rows: QuerySet[Conversation] = Conversation.objects.for_workspace(app.workspace_id).filter(
        app=app, end_user=end_user, is_deleted=False
    )
    field = sort_by.lstrip("-")
    if last_id:
        try:
            last = rows.get(pk=uuid.UUID(str(last_id)))
        except (ValueError, Conversation.DoesNotExist) as exc:
            raise NotFound("Last Conversation Not Exists.") from exc
        pivot = getattr(last, field)
        lookup = f"{field}__lt" if sort_by.startswith("-") else f"{field}__gt"
        rows = rows.filter(**{lookup: pivot})
    found = list(rows.order_by(sort_by, "-id" if sort_by.startswith("-") else "id")[: limit + 1])
    return found[:limit], len(found) > limit


def conversation_delete(*, app: App, end_user: EndUser | None, conversation_id: str) -> None:
    """Dify deletes softly: the conversation and its messages disappear from the API."""
    conversation = conversation_get(app=app, end_user=end_user, conversation_id=conversation_id)
    conversation.is_deleted = True
    conversation.save(update_fields=["is_deleted", "updated_at"])


def conversation_rename(
    *,
    app: App,
    end_user: EndUser | None,
    conversation_id: str,
    name: Any,
    auto_generate: bool = False,
) -> Conversation:
    conversation = conversation_get(app=app, end_user=end_user, conversation_id=conversation_id)
    if auto_generate:
        first = (
            Message.objects.for_workspace(app.workspace_id)
            .filter(conversation=conversation)
            .order_by("created_at")
            .first()
        )
        if first is None:
            raise AppError("The conversation has no message to name it after", code="bad_request")
        new_name = conversation_title(app=app, query=first.query)
    else:
        if not isinstance(name, str) or not name.strip():
            raise InvalidParam("name is required when auto_generate is false")
        new_name = name.strip()[:255]
    conversation.name = new_name
    conversation.save(update_fields=["name", "updated_at"])
    return conversation


# -- messages ----------------------------------------------------------------------------------
def message_item(message: Message) -> dict[str, Any]:
    """Dify's ConversationMessageItem (``feedback``: the caller's own rating)."""
    feedbacks = list(getattr(message, "own_feedbacks", []))
    files = [
        {
            "id": str(f.get("upload_file_id") or f.get("id") or ""),
            "filename": f.get("filename", ""),
            "type": f.get("type", ""), "url": f.get("url"), "mime_type": f.get("mime_type"),
            "size": f.get("size"), "transfer_method": f.get("transfer_method", ""),
            "belongs_to": "user", "upload_file_id": f.get("upload_file_id"),
        }
        for f in message.files or []
    ]  # fmt: skip
    return {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id) if message.conversation_id else None,
        "parent_message_id": None,
        "inputs": message.inputs or {},
        "query": message.query,
        "answer": message.answer,
        "status": message.status,
        "error": message.error or None,
        "message_files": files,
        "feedback": {"rating": feedbacks[0].rating} if feedbacks else None,
        "retriever_resources": message.retriever_resources or [],
        "agent_thoughts": [
            {**t, "message_id": str(message.pk), "chain_id": None} for t in message.agent_thoughts
        ],
        "created_at": _ts(message.created_at),
        "extra_contents": [],
        "message_tokens": message.message_tokens,
        "answer_tokens": message.answer_tokens,
        "total_tokens": message.message_tokens + message.answer_tokens,
        "provider_response_latency": message.latency,
        "total_price": str(message.total_price),
        "currency": message.currency,
    }


def messages_list(
    *, app: App, end_user: EndUser | None, conversation_id: Any, first_id: str | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of the conversation, newest page first, oldest first inside the page (Dify)."""
    if not conversation_id:
        raise InvalidParam("conversation_id is required")
    conversation = conversation_get(app=app, end_user=end_user, conversation_id=conversation_id)
    rows = Message.objects.for_workspace(app.workspace_id).filter(conversation=conversation)
    if first_id:
        try:
            first = rows.get(pk=uuid.UUID(str(first_id)))
        except (ValueError, Message.DoesNotExist) as exc:
            raise NotFound("First Message Not Exists.") from exc
        rows = rows.filter(created_at__lt=first.created_at)
    own = MessageFeedback.objects.filter(end_user=end_user)
    page = list(
        rows.order_by("-created_at", "-id").prefetch_related(
            Prefetch("feedbacks", queryset=own, to_attr="own_feedbacks")
        )[: limit + 1]
    )
    has_more = len(page) > limit
    return list(reversed(page[:limit])), has_more


def message_feedback_set(
    *, app: App, end_user: EndUser, message_id: str, rating: Any, content: Any = None
) -> None:
    """``rating`` like/dislike sets the caller's feedback; null removes it."""
    if rating not in (None, "like", "dislike"):
        raise InvalidParam("rating must be 'like', 'dislike' or null")
    if content is not None and not isinstance(content, str):
        raise InvalidParam("content must be a string")
    message = message_get(app=app, end_user=end_user, message_id=message_id)
    existing = MessageFeedback.objects.filter(message=message, end_user=end_user).first()
    if rating is None:
        if existing is None:
            raise InvalidParam("rating cannot be None when feedback not exists")
        existing.delete()
        return
    MessageFeedback.objects.update_or_create(
        message=message,
        end_user=end_user,
        defaults={"workspace_id": app.workspace_id, "rating": rating, "content": content or ""},
    )


def feedbacks_list(*, app: App, page: int, limit: int) -> list[dict[str, Any]]:
    """Dify's AppFeedbacksResponse items, newest first."""
    rows = (
        MessageFeedback.objects.for_workspace(app.workspace_id)
        .filter(message__app=app)
        .select_related("message")
        .order_by("-created_at")[(page - 1) * limit : page * limit]
    )
    return [
        {
            "id": str(f.pk), "app_id": str(app.pk),
            "conversation_id": str(f.message.conversation_id or ""),
            "message_id": str(f.message_id), "rating": f.rating, "content": f.content or None,
            "from_source": "user", "from_end_user_id": str(f.end_user_id),
            "from_account_id": None, "created_at": f.created_at.isoformat(),
            "updated_at": f.updated_at.isoformat(),
        }
        for f in rows
    ]  # fmt: skip


def message_suggested(*, app: App, end_user: EndUser | None, message_id: str) -> list[str]:
    """Follow-up questions after ``message`` when the app enables them."""
    message = message_get(app=app, end_user=end_user, message_id=message_id)
    if not _suggestions_enabled(app):
        raise AppError("Suggested Questions Is Disabled.", code="bad_request", status=400)
    turns = (
        Message.objects.for_workspace(app.workspace_id)
        .filter(conversation_id=message.conversation_id, created_at__lte=message.created_at)
        .exclude(answer="")
        .order_by("-created_at")
        .values_list("query", "answer")[:3]
    )
    history = [{"query": q, "answer": a} for q, a in reversed(list(turns))]
    return suggested_questions(app=app, turns=history)


def _suggestions_enabled(app: App) -> bool:
    if app.mode == "advanced-chat":
        try:
            features = workflow_for_run(app=app).features or {}
        except AppError:
            return False
    else:
        features = app.model_config or {}
    setting = features.get("suggested_questions_after_answer") or {}
    return bool(setting.get("enabled")) if isinstance(setting, dict) else False
