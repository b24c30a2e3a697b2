"""Per-workspace provider credentials (encrypted) and default models."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from apps.tenants.models import WorkspaceScoped

MODEL_TYPE_CHOICES = [
    ("llm", "LLM (chat)"),
    ("text-embedding", "Text embedding"),
    ("rerank", "Rerank"),
    ("speech2text", "Speech to text"),
    ("tts", "Text to speech"),
    ("moderation", "Moderation"),
]


class ProviderCredential(WorkspaceScoped):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=64, help_text="Dify provider name, e.g. openai")
    encrypted_credentials = models.TextField(editable=False)
    is_valid = models.BooleanField(null=True, help_text="Result of the last validation call")
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "provider"], name="provider_cred_unique")
        ]
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.provider} @ {self.workspace_id}"


class DefaultModel(WorkspaceScoped):
    """Dify's "system model settings": the workspace's default model per type."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model_type = models.CharField(max_length=32, choices=MODEL_TYPE_CHOICES)
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=255)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "model_type"], name="default_model_unique")
        ]
        ordering = ["model_type"]

    def __str__(self) -> str:
        return f"{self.model_type}: {self.provider}/{self.model}"


class ModelPrice(WorkspaceScoped):
    """An operator's price for one model (self-hosted or negotiated): it wins over the
    provider's list price. ``input``/``output`` are per ``unit`` tokens (Dify's pricing)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=255)
    input_price = models.DecimalField(
        max_digits=16, decimal_places=7, help_text="price of `unit` prompt tokens"
    )
    output_price = models.DecimalField(
        max_digits=16, decimal_places=7, default=0, help_text="price of `unit` completion tokens"
    )
    unit = models.DecimalField(
        max_digits=16, decimal_places=9, default=Decimal("0.000001"),
        help_text="0.000001: prices are per million tokens; 0.001: per thousand",
    )  # fmt: skip
    currency = models.CharField(max_length=8, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider", "model"], name="model_price_unique"
            )
        ]
        ordering = ["provider", "model"]

    def __str__(self) -> str:
        prices = f"{self.input_price}/{self.output_price} {self.currency}"
        return f"{self.provider}/{self.model}: {prices}"
