"""Dify's ``sensitive_word_avoidance`` of the simple modes: the ``keywords`` moderation.

``{enabled, type: "keywords", config: {keywords: "word1\\nword2", inputs_config: {enabled,
preset_response}, outputs_config: {enabled, preset_response}}}``. A keyword is matched
case-insensitively anywhere in a value (Dify's rule). Flagged inputs (the form's values or
the query) are answered with the inputs' preset response without calling the model; a
flagged output is replaced by the outputs' preset response (``message_replace``). The
``openai_moderation`` and ``api`` types are refused with a 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apps.core.errors import InvalidParam

REPLACE_REASON = "output_moderation"  # Dify's QueueMessageReplaceEvent reason


@dataclass(frozen=True)
class KeywordModeration:
    keywords: tuple[str, ...]
    inputs_enabled: bool
    inputs_response: str
    outputs_enabled: bool
    outputs_response: str

    def _hit(self, values: Iterable[Any]) -> bool:
        lowered = [str(v).lower() for v in values if v is not None]
        return any(k in v for k in self.keywords for v in lowered)

    def inputs_flagged(self, inputs: Mapping[str, Any], query: str) -> bool:
        return self.inputs_enabled and self._hit([*inputs.values(), query])

    def output_flagged(self, text: str) -> bool:
        return self.outputs_enabled and self._hit([text])


def _part(config: Mapping[str, Any], name: str) -> tuple[bool, str]:
    part = config.get(name)
    if not isinstance(part, Mapping):
        return False, ""
    return bool(part.get("enabled")), str(part.get("preset_response") or "")


def moderation_of(model_config: Mapping[str, Any]) -> KeywordModeration | None:
    """The app's keywords moderation (None when off), or ``invalid_param`` when the
    configured type is not supported or the settings are malformed."""
    raw = model_config.get("sensitive_word_avoidance")
    if not isinstance(raw, Mapping) or not raw.get("enabled"):
        return None
    kind = raw.get("type") or ""
    if kind != "keywords":
        raise InvalidParam(
            f"sensitive_word_avoidance type {kind!r} is not supported; use 'keywords'."
        )
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise InvalidParam("sensitive_word_avoidance.config must be an object")
    text = config.get("keywords")
    if not isinstance(text, str) or not text.strip():
        raise InvalidParam("sensitive_word_avoidance.config.keywords is required")
    keywords = tuple(k.strip().lower() for k in text.split("\n") if k.strip())
    inputs_enabled, inputs_response = _part(config, "inputs_config")
    outputs_enabled, outputs_response = _part(config, "outputs_config")
    if not inputs_enabled and not outputs_enabled:
        return None
    return KeywordModeration(
        keywords, inputs_enabled, inputs_response, outputs_enabled, outputs_response
    )
