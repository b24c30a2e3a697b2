"""End users of the Service API, their conversations, messages and feedback."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from apps.tenants.models import WorkspaceScoped

from .app import App
from .runs import WorkflowRun


class EndUser(WorkspaceScoped):
    """The ``user`` string a Service API caller sends, per app (Dify's end_users)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="end_users")
    session_id = models.CharField(max_length=255, help_text="the caller's `user` value")
    type = models.CharField(max_length=32, default="service_api")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "session_id"], name="end_user_unique_session")
        ]

    def __str__(self) -> str:
        return self.session_id

    @property
    def is_anonymous(self) -> bool:
        """Dify's flag for the shared end user of calls that send no ``user``."""
        return self.session_id == "DEFAULT-USER"


class Conversation(WorkspaceScoped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="conversations")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="conversations")
    name = models.CharField(max_length=255, blank=True, default="")
    inputs = models.JSONField(default=dict, blank=True)
    introduction = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, default="normal")
    dialogue_count = models.IntegerField(default=0)
    is_deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["app", "end_user", "-updated_at"])]

    def __str__(self) -> str:
        return self.name or str(self.id)


class Message(WorkspaceScoped):
    class Status(models.TextChoices):
        NORMAL = "normal"
        ERROR = "error"
        STOPPED = "stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="messages")
    task_id = models.CharField(max_length=64, blank=True, default="")
    query = models.TextField(blank=True, default="")
    inputs = models.JSONField(default=dict, blank=True)
    answer = models.TextField(blank=True, default="")
    message_tokens = models.IntegerField(default=0)
    answer_tokens = models.IntegerField(default=0)
    total_price = models.DecimalField(max_digits=12, decimal_places=7, default=0)
    currency = models.CharField(max_length=8, default="USD")
    latency = models.FloatField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NORMAL)
    error = models.TextField(blank=True, default="")
    files = models.JSONField(default=list, blank=True)
    retriever_resources = models.JSONField(default=list, blank=True)
    agent_thoughts = models.JSONField(default=list, blank=True)
    workflow_run = models.ForeignKey(
        WorkflowRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # set when the message is built: a stream may show its ids before the insert
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"message {self.id}"


class MessageFeedback(WorkspaceScoped):
    class Rating(models.TextChoices):
        LIKE = "like"
        DISLIKE = "dislike"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedbacks")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=16, choices=Rating.choices)
    content = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "end_user"], name="feedback_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.rating} on {self.message_id}"
