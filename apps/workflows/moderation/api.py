"""``api``: an API-based extension judges the text (``config.api_based_extension_id``).

Points ``app.moderation.input`` (params ``app_id``, ``inputs``, ``query``) and
``app.moderation.output`` (params ``app_id``, ``text``); the answer is ``{flagged, action:
direct_output | overridden, preset_response, inputs, query}`` / ``{…, text}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.core.errors import InvalidParam
from apps.tools.api_extensions import (
    POINT_MODERATION_INPUT,
    POINT_MODERATION_OUTPUT,
    ApiExtensionError,
    api_extension_client,
)
from apps.workflows.models import App

from .base import (
    DIRECT_OUTPUT,
    OVERRIDDEN,
    InputsVerdict,
    Moderation,
    ModerationFailed,
    OutputVerdict,
)


class ApiModeration(Moderation):
    type = "api"
    needs_preset = False

    def __init__(self, app: App, config: Mapping[str, Any]):
        super().__init__(app, config)
        extension_id = config.get("api_based_extension_id")
        if not extension_id:
            raise InvalidParam("sensitive_word_avoidance.config.api_based_extension_id is required")
        self.client = api_extension_client(workspace=app.workspace, extension_id=extension_id)

    def _call(self, point: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self.client.call(point, {"app_id": str(self.app.pk), **params})
        except ApiExtensionError as exc:
            raise ModerationFailed(f"Moderation failed: {exc.message}") from exc
        action = answer.get("action") or DIRECT_OUTPUT
        if answer.get("flagged") and action not in (DIRECT_OUTPUT, OVERRIDDEN):
            raise ModerationFailed(f"Moderation failed: unknown action {action!r}")
        return {**answer, "action": action}

    def _inputs(self, inputs: Mapping[str, Any], query: str) -> InputsVerdict:
        answer = self._call(POINT_MODERATION_INPUT, {"inputs": dict(inputs), "query": query})
        overridden = answer.get("inputs")
        return InputsVerdict(
            bool(answer.get("flagged")), answer["action"],
            str(answer.get("preset_response") or self.inputs.preset_response),
            dict(overridden) if isinstance(overridden, Mapping) else None,
            str(answer["query"]) if answer.get("query") is not None else None,
        )  # fmt: skip

    def _output(self, text: str) -> OutputVerdict:
        answer = self._call(POINT_MODERATION_OUTPUT, {"text": text})
        replaced = answer.get("text")
        return OutputVerdict(
            bool(answer.get("flagged")), answer["action"],
            str(answer.get("preset_response") or self.outputs.preset_response),
            str(replaced) if replaced is not None else None,
        )  # fmt: skip
