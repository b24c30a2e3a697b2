"""Service API routes of chat-style apps (chat, agent-chat, advanced-chat, completion)."""

from django.urls import path

from . import chat_views as views

urlpatterns = [
    path("chat-messages", views.ChatMessagesView.as_view(), name="service-chat-messages"),
    path(
        "chat-messages/<str:task_id>/stop",
        views.ChatStopView.as_view(),
        name="service-chat-messages-stop",
    ),
    path(
        "completion-messages",
        views.CompletionMessagesView.as_view(),
        name="service-completion-messages",
    ),
    path(
        "completion-messages/<str:task_id>/stop",
        views.CompletionStopView.as_view(),
        name="service-completion-messages-stop",
    ),
    path("messages", views.MessagesView.as_view(), name="service-messages"),
    path(
        "messages/<str:message_id>/feedbacks",
        views.MessageFeedbackView.as_view(),
        name="service-message-feedbacks",
    ),
    path(
        "messages/<str:message_id>/suggested",
        views.MessageSuggestedView.as_view(),
        name="service-message-suggested",
    ),
    path("app/feedbacks", views.AppFeedbacksView.as_view(), name="service-app-feedbacks"),
    path("conversations", views.ConversationsView.as_view(), name="service-conversations"),
    path(
        "conversations/<str:conversation_id>",
        views.ConversationDetailView.as_view(),
        name="service-conversation",
    ),
    path(
        "conversations/<str:conversation_id>/name",
        views.ConversationNameView.as_view(),
        name="service-conversation-name",
    ),
]
