"""Conversation variables of chatflows, kept per conversation."""

from __future__ import annotations

import uuid

from django.db import models

from apps.tenants.models import WorkspaceScoped

from .app import App


class ConversationVariableSet(WorkspaceScoped):
    """A chatflow conversation's variables (``conversation.*``), kept between its runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    conversation_id = models.CharField(max_length=64)
    values = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["app", "conversation_id"], name="conversation_variables_unique"
            )
        ]

    def __str__(self) -> str:
        return f"variables of conversation {self.conversation_id}"
