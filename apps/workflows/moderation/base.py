"""What every moderation type shares: its settings, its verdicts and its errors.

Dify's ``sensitive_word_avoidance`` is ``{enabled, type, config: {inputs_config: {enabled,
preset_response}, outputs_config: {enabled, preset_response}, ...}}``. A type checks the
inputs (form values and query) before the model runs and the output as it streams. A
flagged input is answered with a preset response (``direct_output``) or goes on with
changed values (``overridden``, API extensions only); a flagged output is replaced.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from apps.core.errors import AppError, InvalidParam
from apps.workflows.models import App

DIRECT_OUTPUT = "direct_output"
OVERRIDDEN = "overridden"


class ModerationFailed(AppError):
    """The moderation could not run (its model or endpoint failed)."""

    code, status = "completion_request_error", 400


@dataclass(frozen=True)
class InputsVerdict:
    flagged: bool
    action: str = DIRECT_OUTPUT
    preset_response: str = ""
    inputs: dict[str, Any] | None = None  # overridden: the values to go on with
    query: str | None = None


@dataclass(frozen=True)
class OutputVerdict:
    flagged: bool
    action: str = DIRECT_OUTPUT
    preset_response: str = ""
    text: str | None = None  # overridden: the text to show instead

    def replacement(self) -> str:
        if self.action == OVERRIDDEN and self.text is not None:
            return self.text
        return self.preset_response


@dataclass(frozen=True)
class Part:
    """``inputs_config`` or ``outputs_config``."""

    enabled: bool = False
    preset_response: str = ""


def _part(config: Mapping[str, Any], name: str, *, needs_preset: bool) -> Part:
    raw = config.get(name)
    if raw is None:
        return Part()
    if not isinstance(raw, Mapping):
        raise InvalidParam(f"sensitive_word_avoidance.config.{name} must be an object")
    part = Part(bool(raw.get("enabled")), str(raw.get("preset_response") or ""))
    if part.enabled and needs_preset and not part.preset_response.strip():
        raise InvalidParam(f"sensitive_word_avoidance.config.{name}.preset_response is required")
    if len(part.preset_response) > 100:
        raise InvalidParam(f"{name}.preset_response must be at most 100 characters")
    return part


class Moderation(ABC):
    """One moderation type, bound to an app (built before the answer starts, so checks
    need no database: they may run on another thread)."""

    type: ClassVar[str]
    checks_locally: ClassVar[bool] = False  # cheap enough to check on every delta
    needs_preset: ClassVar[bool] = True  # the answer comes from the config's presets

    def __init__(self, app: App, config: Mapping[str, Any]):
        self.app = app
        self.inputs = _part(config, "inputs_config", needs_preset=self.needs_preset)
        self.outputs = _part(config, "outputs_config", needs_preset=self.needs_preset)

    @property
    def enabled(self) -> bool:
        return self.inputs.enabled or self.outputs.enabled

    def check_inputs(self, inputs: Mapping[str, Any], query: str) -> InputsVerdict:
        if not self.inputs.enabled:
            return InputsVerdict(False)
        return self._inputs(inputs, query)

    def check_output(self, text: str) -> OutputVerdict:
        if not self.outputs.enabled:
            return OutputVerdict(False)
        return self._output(text)

    @abstractmethod
    def _inputs(self, inputs: Mapping[str, Any], query: str) -> InputsVerdict: ...

    @abstractmethod
    def _output(self, text: str) -> OutputVerdict: ...


def inputs_text(inputs: Mapping[str, Any], query: str) -> str:
    """The form's values and the query as one text to check."""
    parts = [str(v) for v in inputs.values() if v not in (None, "")]
    if query:
        parts.append(query)
    return "\n".join(parts)
