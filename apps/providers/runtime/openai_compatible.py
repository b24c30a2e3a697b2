"""Any server speaking the OpenAI API: Ollama, vLLM, LM Studio, LocalAI, gateways, ...

The ``models`` credential is a comma- (or newline-) separated list. Each entry is ``name``
or ``name:type`` with type ``llm``, ``text-embedding``, ``rerank``, ``moderation``,
``speech2text`` or ``tts`` (default ``llm``). Moderation models are called with ``POST
{base_url}/moderations``, speech models with ``/audio/transcriptions`` and ``/audio/speech``;
the ``voices`` credential lists the TTS voices (default first; empty: OpenAI's voices).
Rerank models are called with the ``POST {base_url}/rerank`` API that vLLM, Xinference,
LocalAI, Jina and Cohere-style gateways share (``model``, ``query``, ``documents``,
``top_n`` → ``results[{index, relevance_score}]``). Names may hold
colons themselves (Ollama's ``llama3:8b``): only a known type after the last colon is a
suffix. With no ``models``, ``GET {base_url}/models`` is asked and ids containing "rerank"
are taken as rerank models, those containing "embed" as embedding models, "whisper" or
"transcribe" as speech-to-text, "tts" as text-to-speech models, the rest as LLMs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import openai

from .base import ChatMessage, CredentialField, ModelInfo, ModelType, RerankResult
from .errors import CredentialsValidateFailedError, InvokeBadRequestError, as_validation_error
from .openai_common import OpenAIAPIProvider, build_client
from .openai_provider import TTS_VOICES

PLACEHOLDER_API_KEY = "not-needed"  # the SDK insists on a key; keyless servers ignore it
_TYPE_SUFFIXES = {
    "llm": ModelType.LLM,
    "text-embedding": ModelType.TEXT_EMBEDDING,
    "embedding": ModelType.TEXT_EMBEDDING,
    "rerank": ModelType.RERANK,
    "moderation": ModelType.MODERATION,
    "speech2text": ModelType.SPEECH2TEXT,
    "tts": ModelType.TTS,
}


def parse_models(value: str | None) -> list[tuple[str, ModelType]]:
    """Parse the ``models`` credential into ``(name, type)`` pairs, keeping order, no repeats."""
    found: dict[str, ModelType] = {}
    for raw in (value or "").replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, model_type = entry, ModelType.LLM
        head, sep, tail = entry.rpartition(":")
        if sep and head.strip() and tail.strip().lower() in _TYPE_SUFFIXES:
            name, model_type = head.strip(), _TYPE_SUFFIXES[tail.strip().lower()]
        found.setdefault(name, model_type)
    return list(found.items())


def _guess_type(model_id: str) -> ModelType:
    lowered = model_id.lower()
    if "rerank" in lowered:
        return ModelType.RERANK
    if "moderation" in lowered:
        return ModelType.MODERATION
    if "whisper" in lowered or "transcribe" in lowered:
        return ModelType.SPEECH2TEXT
    if "tts" in lowered:
        return ModelType.TTS
    return ModelType.TEXT_EMBEDDING if "embed" in lowered else ModelType.LLM


class OpenAICompatibleProvider(OpenAIAPIProvider):
    name = "openai_api_compatible"
    label = "OpenAI-API-compatible"
    supported_model_types = (
        ModelType.LLM,
        ModelType.TEXT_EMBEDDING,
        ModelType.RERANK,
        ModelType.MODERATION,
        ModelType.SPEECH2TEXT,
        ModelType.TTS,
    )
    credential_schema = (
        CredentialField(
            "base_url",
            "API endpoint URL",
            "text-input",
            placeholder="http://localhost:11434/v1",
            help="The URL the OpenAI API paths (/chat/completions, ...) are appended to.",
        ),
        CredentialField("api_key", "API Key", "secret-input", required=False),
        CredentialField(
            "models",
            "Models",
            "list",
            required=False,
            placeholder="llama3.1:8b, nomic-embed-text:text-embedding",
            help="Comma-separated; suffix ':text-embedding' marks embedding models, "
            "':rerank' rerank models, ':moderation' moderation models, ':speech2text' and "
            "':tts' speech models. "
            "Empty: ask the server's /models.",
        ),
        CredentialField(
            "voices",
            "TTS voices",
            "text-input",
            required=False,
            placeholder="alloy, echo",
            help="Voices of the TTS models, comma-separated, the default first. "
            "Empty: OpenAI's voice names.",
        ),
        CredentialField("context_size", "Context size", "text-input", required=False),
    )

    def client(self, credentials: Mapping[str, str]) -> openai.OpenAI:
        base_url = str(credentials.get("base_url") or "").strip()
        if not base_url:
            raise InvokeBadRequestError("API endpoint URL (base_url) is not configured.")
        return build_client(
            api_key=str(credentials.get("api_key") or "").strip() or PLACEHOLDER_API_KEY,
            base_url=base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client_factory=self.http_client_factory,
        )

    def list_models(self, credentials: Mapping[str, str]) -> list[ModelInfo]:
        """Parse ``models``; when it is empty, ask the server (a real request)."""
        context_size = _int_or_none(credentials.get("context_size"))
        pairs = parse_models(credentials.get("models"))
        if not pairs:
            pairs = [(m, _guess_type(m)) for m in self.remote_model_ids(credentials)]
        voices = _voices(credentials)
        return [
            ModelInfo(
                name,
                kind,
                context_size=context_size if kind == ModelType.LLM else None,
                voices=voices if kind == ModelType.TTS else (),
            )
            for name, kind in pairs
        ]

    def tts_voices(self, credentials: Mapping[str, str], model: str) -> list[str]:
        """The ``voices`` credential (no request to the server)."""
        return list(_voices(credentials))

    def validate_credentials(self, credentials: Mapping[str, str]) -> None:
        """A 1-token chat on the first LLM, else an embedding, else ``GET /models``."""
        self.check_required_credentials(credentials)
        base_url = str(credentials.get("base_url") or "").strip()
        if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
            raise CredentialsValidateFailedError("API endpoint URL must be an http(s) URL.")
        if credentials.get("context_size") and _int_or_none(credentials["context_size"]) is None:
            raise CredentialsValidateFailedError("Context size must be a whole number.")
        pairs = parse_models(credentials.get("models"))
        llms = [name for name, kind in pairs if kind == ModelType.LLM]
        embeddings = [name for name, kind in pairs if kind == ModelType.TEXT_EMBEDDING]
        rerankers = [name for name, kind in pairs if kind == ModelType.RERANK]
        moderators = [name for name, kind in pairs if kind == ModelType.MODERATION]
        with as_validation_error():
            if llms:
                ping = [ChatMessage.user("ping")]
                self.chat(credentials, llms[0], ping, parameters={"max_tokens": 1})
            elif embeddings:
                self.embed(credentials, embeddings[0], ["ping"])
            elif rerankers:
                self.rerank(credentials, rerankers[0], "ping", ["ping"], top_n=1)
            elif moderators:
                self.moderate(credentials, moderators[0], "ping")
            elif not self.remote_model_ids(credentials):
                raise CredentialsValidateFailedError("The server lists no models.")

    def rerank(
        self,
        credentials: Mapping[str, str],
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
    ) -> RerankResult:
        if not documents:
            return RerankResult(model, [])
        body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
        if top_n is not None:
            body["top_n"] = top_n
        with self.session(credentials) as client:
            answer = client.post("/rerank", body=body, cast_to=object)
        results = answer.get("results") if isinstance(answer, Mapping) else None
        if not isinstance(results, list):
            raise InvokeBadRequestError("The rerank answer has no 'results' list.")
        ranked: list[tuple[int, float]] = []
        for item in results:
            if not isinstance(item, Mapping):
                continue
            index, score = item.get("index"), item.get("relevance_score", item.get("score"))
            if isinstance(index, int) and 0 <= index < len(documents) and score is not None:
                ranked.append((index, float(score)))
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return RerankResult(model, ranked[:top_n] if top_n else ranked)


def _voices(credentials: Mapping[str, str]) -> tuple[str, ...]:
    raw = str(credentials.get("voices") or "").replace("\n", ",").split(",")
    named = tuple(dict.fromkeys(v.strip() for v in raw if v.strip()))
    return named or TTS_VOICES


def _int_or_none(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
