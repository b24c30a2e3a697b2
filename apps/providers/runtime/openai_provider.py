"""OpenAI (api.openai.com or a proxy with the same API)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import openai

from .base import CredentialField, ModelInfo, ModelPricing, ModelType
from .errors import CredentialsValidateFailedError, InvokeAuthorizationError, as_validation_error
from .openai_common import OpenAIAPIProvider, build_client

DEFAULT_API_BASE = "https://api.openai.com/v1"

_CHAT = ("tool-call", "multi-tool-call", "stream-tool-call")
_VISION = (*_CHAT, "vision")
# OpenAI's built-in voices; the default (Dify's too) first.
TTS_VOICES = ("alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer")
_MINI_TTS_VOICES = (*TTS_VOICES, "ballad", "verse", "marin", "cedar")


def _price(prompt: str, completion: str = "0") -> ModelPricing:
    """OpenAI's list price in USD per million tokens."""
    return ModelPricing(Decimal(prompt), Decimal(completion))


_MODELS = (
    ModelInfo("gpt-4o", ModelType.LLM, _VISION, 128_000, pricing=_price("2.50", "10.00")),
    ModelInfo("gpt-4o-mini", ModelType.LLM, _VISION, 128_000, pricing=_price("0.15", "0.60")),
    ModelInfo("gpt-4.1", ModelType.LLM, _VISION, 1_047_576, pricing=_price("2.00", "8.00")),
    ModelInfo("gpt-4.1-mini", ModelType.LLM, _VISION, 1_047_576, pricing=_price("0.40", "1.60")),
    ModelInfo("o3-mini", ModelType.LLM, _CHAT, 200_000, pricing=_price("1.10", "4.40")),
    ModelInfo("text-embedding-3-small", ModelType.TEXT_EMBEDDING, (), 8191, dimensions=1536,
              pricing=_price("0.02")),
    ModelInfo("text-embedding-3-large", ModelType.TEXT_EMBEDDING, (), 8191, dimensions=3072,
              pricing=_price("0.13")),
    ModelInfo("text-embedding-ada-002", ModelType.TEXT_EMBEDDING, (), 8191, dimensions=1536,
              pricing=_price("0.10")),
    ModelInfo("omni-moderation-latest", ModelType.MODERATION, pricing=_price("0")),
    ModelInfo("text-moderation-latest", ModelType.MODERATION, pricing=_price("0")),
    ModelInfo("text-moderation-stable", ModelType.MODERATION, pricing=_price("0")),
    ModelInfo("whisper-1", ModelType.SPEECH2TEXT),
    ModelInfo("tts-1", ModelType.TTS, voices=TTS_VOICES),
    ModelInfo("tts-1-hd", ModelType.TTS, voices=TTS_VOICES),
    ModelInfo("gpt-4o-mini-tts", ModelType.TTS, voices=_MINI_TTS_VOICES),
)  # fmt: skip
# Dify's openai_moderation uses this model of the workspace's OpenAI provider.
MODERATION_MODEL = "omni-moderation-latest"
# Reasoning models (o1, o3-mini, o4-mini, ...) take max_completion_tokens and no sampling knobs.
_REASONING_MODEL = re.compile(r"^o\d")
_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def api_base(value: str | None) -> str:
    """The API base URL; a bare host (Dify stores e.g. ``https://api.openai.com``) gets ``/v1``."""
    base = (value or "").strip().rstrip("/")
    if not base:
        return DEFAULT_API_BASE
    return base + "/v1" if urlsplit(base).path in ("", "/") else base


class OpenAIProvider(OpenAIAPIProvider):
    name = "openai"
    label = "OpenAI"
    supported_model_types = (
        ModelType.LLM,
        ModelType.TEXT_EMBEDDING,
        ModelType.MODERATION,
        ModelType.SPEECH2TEXT,
        ModelType.TTS,
    )
    credential_schema = (
        CredentialField("openai_api_key", "API Key", "secret-input", placeholder="sk-..."),
        CredentialField(
            "openai_organization", "Organization", "text-input", required=False, placeholder="org-"
        ),
        CredentialField(
            "openai_api_base",
            "API Base",
            "text-input",
            required=False,
            default=DEFAULT_API_BASE,
            placeholder=DEFAULT_API_BASE,
            help="Change only for a proxy that speaks the OpenAI API.",
        ),
    )

    def client(self, credentials: Mapping[str, str]) -> openai.OpenAI:
        api_key = str(credentials.get("openai_api_key") or "").strip()
        if not api_key:
            raise InvokeAuthorizationError("OpenAI API key is not configured.")
        return build_client(
            api_key=api_key,
            base_url=api_base(credentials.get("openai_api_base")),
            organization=str(credentials.get("openai_organization") or "").strip() or None,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client_factory=self.http_client_factory,
        )

    def list_models(self, credentials: Mapping[str, str]) -> list[ModelInfo]:
        return list(_MODELS)

    def list_price(self, model: str) -> ModelPricing | None:
        return next((m.pricing for m in _MODELS if m.model == model), None)

    def text_to_speech(
        self,
        credentials: Mapping[str, str],
        model: str,
        text: str,
        voice: str,
        *,
        audio_format: str = "mp3",
    ) -> Iterator[bytes]:
        """A voice this model does not have is replaced by its default one (as Dify does)."""
        voices = self.tts_voices(credentials, model)
        if voices and voice not in voices:
            voice = voices[0]
        return super().text_to_speech(credentials, model, text, voice, audio_format=audio_format)

    def adapt_parameters(self, model: str, params: dict[str, Any]) -> dict[str, Any]:
        if not _REASONING_MODEL.match(model):
            return params
        params = {k: v for k, v in params.items() if k not in _SAMPLING}
        if "max_tokens" in params:
            params.setdefault("max_completion_tokens", params.pop("max_tokens"))
        return params

    def validate_credentials(self, credentials: Mapping[str, str]) -> None:
        """Check required fields, then list models through the API (free, needs a valid key)."""
        self.check_required_credentials(credentials)
        base = api_base(credentials.get("openai_api_base"))
        if urlsplit(base).scheme not in ("http", "https"):
            raise CredentialsValidateFailedError("API Base must be an http(s) URL.")
        with as_validation_error():
            self.remote_model_ids(credentials)
