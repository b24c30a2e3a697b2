"""Workflows (draft + published versions), runs and node executions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceScoped

from .app import App


class Workflow(WorkspaceScoped):
    """A graph-mode app's workflow: one ``draft`` plus immutable published versions."""

    DRAFT = "draft"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="workflows")
    type = models.CharField(max_length=16, default="workflow")  # workflow | chat
    version = models.CharField(max_length=64, default=DRAFT)
    graph = models.JSONField(default=dict)
    features = models.JSONField(default=dict, blank=True)
    environment_variables = models.JSONField(default=list, blank=True)
    conversation_variables = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["app", "version"], name="workflow_app_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.app.name} @ {self.version}"


class WorkflowRun(WorkspaceScoped):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        STOPPED = "stopped"
        PARTIAL_SUCCEEDED = "partial-succeeded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="runs")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    triggered_from = models.CharField(max_length=32, default="app-run")  # app-run | debugging
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.RUNNING)
    inputs = models.JSONField(default=dict, blank=True)
    system_variables = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    elapsed_time = models.FloatField(default=0)
    node_time = models.FloatField(default=0, help_text="seconds inside nodes")
    engine_time = models.FloatField(default=0, help_text="seconds of scheduling outside nodes")
    persistence_time = models.FloatField(default=0, help_text="seconds writing this record")
    total_tokens = models.IntegerField(default=0)
    total_steps = models.IntegerField(default=0)
    exceptions_count = models.IntegerField(default=0)
    created_by_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_end_user = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"


class NodeExecution(WorkspaceScoped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="node_executions")
    node_id = models.CharField(max_length=255)
    node_type = models.CharField(max_length=64)
    title = models.CharField(max_length=255, blank=True, default="")
    index = models.IntegerField(default=0)
    predecessor_node_id = models.CharField(max_length=255, blank=True, default="")
    parent_node_id = models.CharField(max_length=255, blank=True, default="")
    iteration_index = models.IntegerField(null=True, blank=True)
    loop_index = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=32)
    inputs = models.JSONField(default=dict, blank=True)
    process_data = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    elapsed_time = models.FloatField(default=0)
    total_tokens = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        indexes = [models.Index(fields=["run", "index"])]

    def __str__(self) -> str:
        return f"{self.title or self.node_id} ({self.status})"
