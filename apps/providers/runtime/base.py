"""Provider interface and the value objects that cross it (no Django, no SDKs)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal

from .errors import CredentialsValidateFailedError, ModelNotSupportedError

Role = Literal["system", "user", "assistant", "tool"]


class ModelType(StrEnum):
    """Model types, spelled as in Dify."""

    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    MODERATION = "moderation"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One field of a provider's credential form (Dify's ``credential_form_schemas``)."""

    name: str
    label: str
    type: str  # "secret-input" | "text-input" | "select" | "list"
    required: bool = True
    default: str | None = None
    placeholder: str = ""
    help: str = ""

    @property
    def is_secret(self) -> bool:
        return self.type == "secret-input"


PRICE_QUANTUM = Decimal("0.0000001")  # Dify rounds prices to 7 decimals
PER_MILLION = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class UsageCost:
    """What a call cost, in Dify's terms: ``tokens × unit_price × price_unit``."""

    prompt_unit_price: Decimal = Decimal(0)
    prompt_price_unit: Decimal = PER_MILLION
    prompt_price: Decimal = Decimal(0)
    completion_unit_price: Decimal = Decimal(0)
    completion_price_unit: Decimal = PER_MILLION
    completion_price: Decimal = Decimal(0)
    currency: str = "USD"

    @property
    def total_price(self) -> Decimal:
        return self.prompt_price + self.completion_price

    def fields(self) -> dict[str, str]:
        """The price fields of Dify's ``Usage`` (decimals as strings)."""

        def plain(value: Decimal) -> str:  # 2.5, 0.000001 (never 1E-6)
            return format(value.normalize(), "f") if value else "0"

        def price(value: Decimal) -> str:  # 0.0000920
            return format(value.quantize(PRICE_QUANTUM), "f")

        return {
            "prompt_unit_price": plain(self.prompt_unit_price),
            "prompt_price_unit": plain(self.prompt_price_unit),
            "prompt_price": price(self.prompt_price),
            "completion_unit_price": plain(self.completion_unit_price),
            "completion_price_unit": plain(self.completion_price_unit),
            "completion_price": price(self.completion_price),
            "total_price": price(self.total_price),
            "currency": self.currency,
        }

    def __add__(self, other: UsageCost) -> UsageCost:
        """Prices add up; unit prices are the later call's (as Dify's agent usage)."""
        return UsageCost(
            other.prompt_unit_price, other.prompt_price_unit,
            self.prompt_price + other.prompt_price,
            other.completion_unit_price, other.completion_price_unit,
            self.completion_price + other.completion_price, other.currency,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """A model's prices: ``input`` / ``output`` per ``unit`` tokens (Dify's ``pricing``:
    ``input: 2.5, unit: 0.000001`` is 2.5 per million prompt tokens)."""

    input: Decimal
    output: Decimal = Decimal(0)
    unit: Decimal = PER_MILLION
    currency: str = "USD"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> UsageCost:
        def price(tokens: int, unit_price: Decimal) -> Decimal:
            return (tokens * unit_price * self.unit).quantize(PRICE_QUANTUM, ROUND_HALF_UP)

        return UsageCost(
            self.input, self.unit, price(prompt_tokens, self.input),
            self.output, self.unit, price(completion_tokens, self.output), self.currency,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model: str
    model_type: ModelType
    features: tuple[str, ...] = ()  # e.g. "tool-call", "stream-tool-call", "vision"
    context_size: int | None = None
    dimensions: int | None = None  # embeddings only
    pricing: ModelPricing | None = None  # the provider's list price, when it publishes one
    voices: tuple[str, ...] = ()  # text-to-speech only; the default voice first


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text, as the model produced it


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str | list[dict[str, Any]] = ""  # a list holds OpenAI content parts (vision)
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str | list[dict[str, Any]]) -> ChatMessage:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> ChatMessage:
        return cls(role="assistant", content=content, tool_calls=list(tool_calls))

    @classmethod
    def tool(cls, content: str, tool_call_id: str) -> ChatMessage:
        return cls(role="tool", content=content, tool_call_id=tool_call_id)

    def text(self) -> str:
        """The text of the message (text parts joined when content is a list)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    latency: float = 0.0  # seconds
    cost: UsageCost | None = None  # set by the caller that knows the model's prices

    def __add__(self, other: Usage) -> Usage:
        if self.cost is None or other.cost is None:
            cost = self.cost or other.cost
        else:
            cost = self.cost + other.cost
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            latency=self.latency + other.latency,
            cost=cost,
        )

    @classmethod
    def sum(cls, usages: Iterable[Usage]) -> Usage:
        total = cls()
        for usage in usages:
            total = total + usage
        return total


@dataclass(frozen=True, slots=True)
class LLMChunk:
    delta: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)  # complete calls, on the last chunk
    finish_reason: str | None = None
    usage: Usage | None = None  # set on the last chunk only
    reasoning_delta: str = ""


@dataclass(frozen=True, slots=True)
class LLMResult:
    model: str
    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str | None
    reasoning_content: str = ""


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    model: str
    vectors: list[list[float]]
    usage: Usage


@dataclass(frozen=True, slots=True)
class ModerationResult:
    """Whether a moderation model flagged the text, and the categories it flagged."""

    model: str
    flagged: bool
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class RerankResult:
    """Documents by relevance, best first: ``(index into the documents given, score 0..1)``."""

    model: str
    ranked: list[tuple[int, float]]


def estimate_tokens(text: str) -> int:
    """Rough token count used when a server reports no usage: ~4 characters per token."""
    return (len(text) + 3) // 4


class ToolCallAssembler:
    """Assembles streamed tool-call pieces, keyed by their index, into complete ToolCalls."""

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    def add(
        self, index: int | None, call_id: str | None, name: str | None, args: str | None
    ) -> None:
        entry = self._parts.setdefault(len(self._parts) if index is None else index, ["", "", ""])
        entry[0], entry[1] = entry[0] or call_id or "", entry[1] or name or ""
        entry[2] += args or ""

    def calls(self) -> list[ToolCall]:
        """The calls in index order; a missing id gets a generated ``call_...`` one."""
        return [
            ToolCall(i or f"call_{uuid.uuid4().hex[:24]}", n, a)
            for _, (i, n, a) in sorted(self._parts.items())
        ]


class ModelProvider(ABC):
    """A model provider. Instances are stateless: credentials arrive on every call."""

    name: ClassVar[str]
    label: ClassVar[str]
    credential_schema: ClassVar[tuple[CredentialField, ...]] = ()
    supported_model_types: ClassVar[tuple[ModelType, ...]] = ()

    @abstractmethod
    def list_models(self, credentials: Mapping[str, str]) -> list[ModelInfo]:
        """The models usable with these credentials."""

    @abstractmethod
    def validate_credentials(self, credentials: Mapping[str, str]) -> None:
        """Make a real call; raise CredentialsValidateFailedError with a one-line message."""

    def supports(self, model_type: ModelType) -> bool:
        return model_type in self.supported_model_types

    def list_price(self, model: str) -> ModelPricing | None:
        """The provider's published price of ``model`` (None: unknown, e.g. self-hosted)."""
        return None

    def check_required_credentials(self, credentials: Mapping[str, str]) -> None:
        """Raise CredentialsValidateFailedError naming the first missing required field."""
        for spec in self.credential_schema:
            if spec.required and not str(credentials.get(spec.name) or "").strip():
                raise CredentialsValidateFailedError(f"{spec.label} ({spec.name}) is required.")

    def chat(
        self,
        credentials: Mapping[str, str],
        model: str,
        messages: Sequence[ChatMessage],
        *,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> LLMResult:
        raise ModelNotSupportedError(f"Provider {self.name} does not support chat models.")

    def chat_stream(
        self,
        credentials: Mapping[str, str],
        model: str,
        messages: Sequence[ChatMessage],
        *,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> Iterator[LLMChunk]:
        raise ModelNotSupportedError(f"Provider {self.name} does not support chat models.")

    def embed(
        self, credentials: Mapping[str, str], model: str, texts: Sequence[str]
    ) -> EmbeddingResult:
        raise ModelNotSupportedError(f"Provider {self.name} does not support embedding models.")

    def rerank(
        self,
        credentials: Mapping[str, str],
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
    ) -> RerankResult:
        raise ModelNotSupportedError(f"Provider {self.name} does not support rerank models.")

    def moderate(self, credentials: Mapping[str, str], model: str, text: str) -> ModerationResult:
        raise ModelNotSupportedError(f"Provider {self.name} does not support moderation models.")

    def speech_to_text(
        self,
        credentials: Mapping[str, str],
        model: str,
        audio: bytes,
        filename: str,
        mime_type: str,
    ) -> str:
        """The text spoken in ``audio`` (a whole file: mp3, m4a, wav, ...)."""
        raise ModelNotSupportedError(f"Provider {self.name} does not support speech to text.")

    def text_to_speech(
        self,
        credentials: Mapping[str, str],
        model: str,
        text: str,
        voice: str,
        *,
        audio_format: str = "mp3",
    ) -> Iterator[bytes]:
        """``text`` spoken with ``voice``, as pieces of one audio file, sent as they arrive."""
        raise ModelNotSupportedError(f"Provider {self.name} does not support text to speech.")

    def tts_voices(self, credentials: Mapping[str, str], model: str) -> list[str]:
        """The voices of a text-to-speech model, its default first (from ``list_models``)."""
        for info in self.list_models(credentials):
            if info.model == model and info.model_type == ModelType.TTS:
                return list(info.voices)
        return []
