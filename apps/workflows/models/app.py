"""Apps: Dify's five modes; what ``app-`` keys are bound to."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceScoped


class App(WorkspaceScoped):
    class Mode(models.TextChoices):
        CHAT = "chat"
        COMPLETION = "completion"
        AGENT_CHAT = "agent-chat"
        ADVANCED_CHAT = "advanced-chat"
        WORKFLOW = "workflow"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    mode = models.CharField(max_length=32, choices=Mode.choices)
    description = models.TextField(blank=True, default="")
    icon = models.CharField(max_length=255, blank=True, default="🤖")
    icon_background = models.CharField(max_length=32, blank=True, default="#FFEAD5")
    enable_api = models.BooleanField(default=True, help_text="Service API access with app keys")
    enable_site = models.BooleanField(default=True, help_text="End-user web page")
    use_icon_as_answer_icon = models.BooleanField(default=False)
    model_config = models.JSONField(
        default=dict, blank=True, help_text="Simple modes: prompt, model, parameters, features"
    )
    published_workflow = models.ForeignKey(
        "Workflow", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dsl_extras = models.JSONField(
        default=dict, blank=True, help_text="Fields of the imported DSL file kept for export"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.mode})"
