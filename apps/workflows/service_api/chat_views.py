"""Service API of chat-style apps: chat/completion messages, conversations, feedback."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import AppUnavailable, InvalidParam
from apps.workflows.chat import conversations as conv
from apps.workflows.chat.speech import with_speech
from apps.workflows.chat_services import (
    chat_message_start,
    chat_task_stop,
    chat_task_stream_resumable,
)
from apps.workflows.sse import SSEStream

from . import openapi as doc
from .base import (
    CHAT_MODES,
    RESPONSE_MODES,
    WEB_OR_APP_KEY,
    NotChatApp,
    ServiceAPIView,
    flag_value,
)

SUCCESS = {"result": "success"}


class NotCompletionApp(AppUnavailable):
    def __init__(self, message: str = "App unavailable, please check your app configurations."):
        super().__init__(message)


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidParam("the body must be a JSON object")
    return request.data


class _MessagesCreate(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY
    modes: tuple[str, ...] = ()
    error: type = NotChatApp

    def _create(self, request: Request) -> HttpResponseBase:
        self.require_modes(self.modes, self.error)
        body = _body(request)
        end_user = self.end_user(request)
        assert end_user is not None
        mode = body.get("response_mode") or "blocking"
        if mode not in RESPONSE_MODES:
            raise InvalidParam("response_mode must be 'blocking' or 'streaming'")
        conversation_id = body.get("conversation_id") or None
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise InvalidParam("conversation_id must be a string")
        streaming = mode == "streaming"
        auto_name = flag_value(body.get("auto_generate_name"), "auto_generate_name", True)
        task = chat_message_start(
            app=self.app, end_user=end_user, query=body.get("query"),
            inputs=body.get("inputs"), files=body.get("files"), conversation_id=conversation_id,
            auto_generate_name=auto_name,
            store_later=streaming,
        )  # fmt: skip
        if streaming and task.workflow_run is not None:
            return chat_task_stream_resumable(task)
        if streaming:  # the records are stored once the first event is out (chat/task.py)
            app = self.app
            return SSEStream(lambda: with_speech(task.events(), app=app)).response()
        return Response(task.blocking())


class ChatMessagesView(_MessagesCreate):
    modes = CHAT_MODES
    error = NotChatApp

    @doc.service_api(
        "Chat Messages", "Send a chat message", request=doc.ChatRequest,
        responses=doc.ChatCompletionResponse, streams=True, errors=(400, 401, 403, 404, 429),
    )  # fmt: skip
    def post(self, request: Request) -> HttpResponseBase:
        return self._create(request)


class CompletionMessagesView(_MessagesCreate):
    modes = ("completion",)
    error = NotCompletionApp

    @doc.service_api(
        "Completion Messages", "Send a completion message", request=doc.CompletionRequest,
        responses=doc.CompletionResponse, streams=True, errors=(400, 401, 403, 429),
    )  # fmt: skip
    def post(self, request: Request) -> HttpResponseBase:
        return self._create(request)


class ChatStopView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY
    modes: tuple[str, ...] = CHAT_MODES
    error: type = NotChatApp

    @doc.service_api("Chat Messages", "Stop a streaming answer", request=doc.StopRequest)
    def post(self, request: Request, task_id: str) -> Response:
        self.require_modes(self.modes, self.error)
        chat_task_stop(app=self.app, user=self.user_value(request), task_id=task_id)
        return Response(SUCCESS)


class CompletionStopView(ChatStopView):
    modes = ("completion",)
    error = NotCompletionApp

    @doc.service_api("Completion Messages", "Stop a streaming answer", request=doc.StopRequest)
    def post(self, request: Request, task_id: str) -> Response:
        return super().post(request, task_id)


class MessagesView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "A conversation's messages, newest page first",
        query=doc.MessagesQuery, responses=doc.ConversationHistoryResponse,
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        limit = conv.page_limit(request.query_params.get("limit"))
        messages, has_more = conv.messages_list(
            app=self.app, end_user=self.end_user(request, create=False, required=False),
            conversation_id=request.query_params.get("conversation_id"),
            first_id=request.query_params.get("first_id"), limit=limit,
        )  # fmt: skip
        data = [conv.message_item(m) for m in messages]
        return Response({"limit": limit, "has_more": has_more, "data": data})


class MessageFeedbackView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Feedback", "Like or dislike a message", request=doc.MessageFeedbackRequest,
        path_uuid=["message_id"],
    )  # fmt: skip
    def post(self, request: Request, message_id: str) -> Response:
        body = _body(request)
        end_user = self.end_user(request)
        assert end_user is not None
        conv.message_feedback_set(
            app=self.app, end_user=end_user, message_id=message_id,
            rating=body.get("rating"), content=body.get("content"),
        )  # fmt: skip
        return Response(SUCCESS)


class MessageSuggestedView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Chat Messages", "Suggested next questions", query=doc.SuggestedQuery,
        responses=doc.SuggestedQuestionsResponse, path_uuid=["message_id"],
    )  # fmt: skip
    def get(self, request: Request, message_id: str) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        questions = conv.message_suggested(
            app=self.app, end_user=self.end_user(request, create=False), message_id=message_id
        )
        return Response({"result": "success", "data": questions})


class AppFeedbacksView(ServiceAPIView):
    @doc.service_api(
        "Feedback", "The app's message feedback", query=doc.AppFeedbacksQuery,
        responses=doc.AppFeedbacksResponse, errors=(400, 401),
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        limit = conv.page_limit(request.query_params.get("limit"))
        raw_page = request.query_params.get("page") or "1"
        try:
            page = max(1, int(raw_page))
        except ValueError as exc:
            raise InvalidParam("page must be an integer") from exc
        return Response({"data": conv.feedbacks_list(app=self.app, page=page, limit=limit)})


class ConversationsView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "The user's conversations", query=doc.ConversationsQuery,
        responses=doc.ConversationsListResponse,
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        limit = conv.page_limit(request.query_params.get("limit"))
        found, has_more = conv.conversations_list(
            app=self.app, end_user=self.end_user(request, create=False, required=False),
            last_id=request.query_params.get("last_id") or None, limit=limit,
            sort_by=request.query_params.get("sort_by") or "-updated_at",
        )  # fmt: skip
        data = [conv.conversation_item(c) for c in found]
        return Response({"limit": limit, "has_more": has_more, "data": data})


class ConversationDetailView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "Delete a conversation", request=doc.ConversationDeleteRequest,
        responses={204: None},
    )  # fmt: skip
    def delete(self, request: Request, conversation_id: str) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        conv.conversation_delete(
            app=self.app, end_user=self.end_user(request, create=False, required=False),
            conversation_id=conversation_id,
        )  # fmt: skip
        return Response(status=204)


class ConversationNameView(ServiceAPIView):
    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Conversations", "Rename a conversation", request=doc.ConversationRenameRequest,
        responses=doc.ConversationListItem,
    )  # fmt: skip
    def post(self, request: Request, conversation_id: str) -> Response:
        self.require_modes(CHAT_MODES, NotChatApp)
        body = _body(request)
        conversation = conv.conversation_rename(
            app=self.app, end_user=self.end_user(request, create=False, required=False),
            conversation_id=conversation_id, name=body.get("name"),
            auto_generate=flag_value(body.get("auto_generate"), "auto_generate", False),
        )  # fmt: skip
        return Response(conv.conversation_item(conversation))
