"""Moderation of chat and completion apps (Dify's ``sensitive_word_avoidance``): one file
per type, registered by its Dify name (``keywords``, ``openai_moderation``, ``api``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.core.errors import InvalidParam
from apps.workflows.models import App

from .api import ApiModeration
from .base import DIRECT_OUTPUT, Moderation, ModerationFailed
from .keywords import KeywordsModeration
from .openai_moderation import OpenAIModeration
from .output import REPLACE_REASON, OutputGuard

MODERATIONS: dict[str, type[Moderation]] = {}


def register(kind: type[Moderation]) -> type[Moderation]:
    if kind.type in MODERATIONS:
        raise ValueError(f"moderation type {kind.type!r} is registered already")
    MODERATIONS[kind.type] = kind
    return kind


register(KeywordsModeration)
register(OpenAIModeration)
register(ApiModeration)


def moderation_of(app: App, settings: Any) -> Moderation | None:
    """The app's moderation from ``sensitive_word_avoidance`` (model_config of the simple
    modes, workflow features of chatflows); None when it is off. ``invalid_param`` for an
    unknown type or malformed settings."""
    if not isinstance(settings, Mapping) or not settings.get("enabled"):
        return None
    kind = str(settings.get("type") or "")
    moderation_type = MODERATIONS.get(kind)
    if moderation_type is None:
        known = ", ".join(sorted(MODERATIONS))
        raise InvalidParam(f"sensitive_word_avoidance type {kind!r} is not supported ({known})")
    config = settings.get("config") or {}
    if not isinstance(config, Mapping):
        raise InvalidParam("sensitive_word_avoidance.config must be an object")
    moderation = moderation_type(app, config)
    return moderation if moderation.enabled else None


@dataclass(frozen=True)
class ModeratedInputs:
    inputs: dict[str, Any]
    query: str
    answer: str | None = None  # set: answer this without a model call (direct output)


def inputs_moderate(
    moderation: Moderation | None, inputs: Mapping[str, Any], query: str
) -> ModeratedInputs:
    """Check the request's values: a direct answer, changed values, or the same ones."""
    values = dict(inputs)
    if moderation is None:
        return ModeratedInputs(values, query)
    verdict = moderation.check_inputs(values, query)
    if not verdict.flagged:
        return ModeratedInputs(values, query)
    if verdict.action == DIRECT_OUTPUT:
        return ModeratedInputs(values, query, verdict.preset_response)
    changed = {**values, **(verdict.inputs or {})}
    return ModeratedInputs(changed, verdict.query if verdict.query is not None else query)


__all__ = [
    "MODERATIONS",
    "REPLACE_REASON",
    "ModeratedInputs",
    "Moderation",
    "ModerationFailed",
    "OutputGuard",
    "inputs_moderate",
    "moderation_of",
    "register",
]
