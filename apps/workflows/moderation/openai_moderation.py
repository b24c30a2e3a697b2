"""``openai_moderation``: a moderation model judges the text (Dify asks OpenAI's
``omni-moderation-latest``). Here: the workspace's default moderation model when one is
set, else that model of the workspace's ``openai`` provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apps.core.errors import AppError
from apps.providers.runtime.base import ModerationResult
from apps.providers.runtime.openai_provider import MODERATION_MODEL
from apps.providers.services import WorkspaceModelRuntime, default_model_get
from apps.workflows.models import App

from .base import InputsVerdict, Moderation, ModerationFailed, OutputVerdict, inputs_text


class OpenAIModeration(Moderation):
    type = "openai_moderation"

    def __init__(self, app: App, config: Mapping[str, Any]):
        super().__init__(app, config)
        default = default_model_get(workspace=app.workspace, model_type="moderation")
        provider, model = (None, None) if default else ("openai", MODERATION_MODEL)
        # resolved now (credentials read here): the checks may run on another thread
        self._moderate: Callable[[str], ModerationResult] = WorkspaceModelRuntime(
            app.workspace
        ).moderator(provider=provider, model=model)

    def _flagged(self, text: str) -> bool:
        if not text.strip():
            return False
        try:
            return self._moderate(text).flagged
        except AppError as exc:
            raise ModerationFailed(f"Moderation failed: {exc.message}") from exc

    def _inputs(self, inputs: Mapping[str, Any], query: str) -> InputsVerdict:
        flagged = self._flagged(inputs_text(inputs, query))
        return InputsVerdict(flagged, preset_response=self.inputs.preset_response)

    def _output(self, text: str) -> OutputVerdict:
        return OutputVerdict(self._flagged(text), preset_response=self.outputs.preset_response)
