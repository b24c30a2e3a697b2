"""Annotations (Dify's message annotations) and annotation reply.

An annotation is a question with the answer an app should give to it. With annotation reply
enabled (``AnnotationReplySetting``), a chat query close enough to an annotation's question
(cosine similarity of their embeddings ≥ the threshold) is answered with the annotation's
text without a model call; each such answer is kept as an ``AnnotationHitHistory`` row,
which is what links the message to the annotation (as in Dify). Enabling and disabling run
as jobs (``AnnotationReplyJob``) that embed or drop every annotation of the app.

Embeddings live in one ``vector`` column without a fixed dimension, with the provider and
model that made them: search compares only vectors of the setting's model.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from pgvector.django import VectorField

from apps.tenants.models import WorkspaceScoped

from .app import App
from .chat import Conversation, EndUser, Message


class Annotation(WorkspaceScoped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="annotations")
    question = models.TextField()
    content = models.TextField(help_text="The answer (Dify's `content`, `answer` in the API)")
    hit_count = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    embedding = VectorField(null=True, blank=True, help_text="Embedding of the question")
    embedding_provider = models.CharField(max_length=64, blank=True, default="")
    embedding_model = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["app", "-created_at"], name="annotation_app_created")]

    def __str__(self) -> str:
        return self.question[:60]


class AnnotationReplySetting(WorkspaceScoped):
    """An app's annotation reply: on when ``enabled``, with the model its embeddings use."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.OneToOneField(App, on_delete=models.CASCADE, related_name="annotation_setting")
    enabled = models.BooleanField(default=True)
    score_threshold = models.FloatField(default=0.9)
    embedding_provider = models.CharField(max_length=64)
    embedding_model = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"annotation reply {state} ({self.embedding_provider}/{self.embedding_model})"


class AnnotationHitHistory(WorkspaceScoped):
    """One answer given from an annotation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="hits")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="annotation_hits"
    )
    end_user = models.ForeignKey(
        EndUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    question = models.TextField(help_text="The query that matched")
    source = models.CharField(max_length=16, default="api")
    score = models.FloatField()
    annotation_question = models.TextField()
    annotation_content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "annotation hit histories"

    def __str__(self) -> str:
        return f"hit of {self.annotation_id} ({self.score:.3f})"


class AnnotationReplyJob(WorkspaceScoped):
    """An enable/disable job of annotation reply; its id is the API's ``job_id``."""

    class Action(models.TextChoices):
        ENABLE = "enable"
        DISABLE = "disable"

    class Status(models.TextChoices):
        WAITING = "waiting"
        PROCESSING = "processing"
        COMPLETED = "completed"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    error_msg = models.TextField(blank=True, default="")
    score_threshold = models.FloatField(null=True, blank=True)
    embedding_provider = models.CharField(max_length=64, blank=True, default="")
    embedding_model = models.CharField(max_length=255, blank=True, default="")
    embedded = models.IntegerField(default=0, help_text="Annotations embedded by the job")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "action", "status"], name="annotation_job_app")]

    def __str__(self) -> str:
        return f"{self.action} annotation reply: {self.status}"
