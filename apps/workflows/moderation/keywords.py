"""``keywords``: ``config.keywords`` is one word or phrase per line (at most 100 lines,
Dify's limit); each is matched case-insensitively anywhere in a value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apps.core.errors import InvalidParam
from apps.workflows.models import App

from .base import InputsVerdict, Moderation, OutputVerdict

MAX_KEYWORDS = 100


class KeywordsModeration(Moderation):
    type = "keywords"
    checks_locally = True

    def __init__(self, app: App, config: Mapping[str, Any]):
        super().__init__(app, config)
        text = config.get("keywords")
        if not isinstance(text, str) or not text.strip():
            raise InvalidParam("sensitive_word_avoidance.config.keywords is required")
        self.keywords = tuple(k.strip().lower() for k in text.split("\n") if k.strip())
        if len(self.keywords) > MAX_KEYWORDS:
            raise InvalidParam(f"sensitive_word_avoidance allows at most {MAX_KEYWORDS} keywords")

    def _hit(self, values: Iterable[Any]) -> bool:
        lowered = [str(v).lower() for v in values if v is not None]
        return any(k in v for k in self.keywords for v in lowered)

    def _inputs(self, inputs: Mapping[str, Any], query: str) -> InputsVerdict:
        flagged = self._hit([*inputs.values(), query])
        return InputsVerdict(flagged, preset_response=self.inputs.preset_response)

    def _output(self, text: str) -> OutputVerdict:
        return OutputVerdict(self._hit([text]), preset_response=self.outputs.preset_response)
