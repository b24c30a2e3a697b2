"""Provider credentials, default models and model calls for one workspace.

The runtime (``apps.providers.runtime``) knows nothing of workspaces; this module joins it
to the stored, encrypted credentials and to the workspace's default models.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from apps.core.db import release_connection
from apps.core.errors import AppError, InvalidParam, NotFound
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from apps.providers.runtime import providers
from apps.providers.runtime.base import (
    ChatMessage,
    EmbeddingResult,
    LLMChunk,
    LLMResult,
    ModelInfo,
    ModelPricing,
    ModelProvider,
    ModelType,
    ModerationResult,
    RerankResult,
    ToolSpec,
    Usage,
    UsageCost,
)
from apps.providers.runtime.errors import ProviderError, ProviderNotFoundError
from apps.tenants.crypto import decrypt_json, encrypt_json, mask_secret
from apps.tenants.models import Workspace

logger = logging.getLogger(__name__)

_STATUS_BY_CODE = {"rate_limit_error": 429}


class ProviderNotInitialized(AppError):
    code = "provider_not_initialize"
    status = 400


@contextmanager
def provider_errors() -> Iterator[None]:
    """Turn runtime errors into the API's coded errors (messages never carry secrets)."""
    try:
        yield
    except ProviderError as exc:
        raise AppError(str(exc), code=exc.code, status=_STATUS_BY_CODE.get(exc.code, 400)) from exc


def provider_get(name: str) -> ModelProvider:
    try:
        return providers.get(name)
    except ProviderNotFoundError as exc:
        known = ", ".join(p.name for p in providers.all())
        raise NotFound(f"unknown provider {name!r}; known providers: {known}") from exc


def _clean_credentials(
    provider: ModelProvider, submitted: Mapping[str, Any], previous: Mapping[str, Any]
) -> dict[str, str]:
    """Keep declared fields only; a blank or still-masked secret keeps its stored value."""
    declared = {f.name: f for f in provider.credential_schema}
    unknown = sorted(set(submitted) - set(declared))
    if unknown:
        raise InvalidParam(
            f"unknown credential field(s) for {provider.name}: {', '.join(unknown)}; "
            f"expected: {', '.join(declared) or 'none'}"
        )
    cleaned: dict[str, str] = {}
    for name, field in declared.items():
        value = str(submitted.get(name, "") or "").strip()
        old = str(previous.get(name, "") or "")
        if field.is_secret and old and (not value or value == mask_secret(old)):
            value = old
        if not value and field.default:
            value = field.default
        if value:
            cleaned[name] = value
        elif field.required:
            raise InvalidParam(f"credential field {name!r} is required for {provider.name}")
    return cleaned


def provider_credentials_prepare(
    *,
    workspace: Workspace,
    provider_name: str,
    credentials: Mapping[str, Any],
    validate: bool = True,
) -> dict[str, str]:
    """Check submitted credentials (with a real call if ``validate``); nothing is saved."""
    provider = provider_get(provider_name)
    existing = (
        ProviderCredential.objects.for_workspace(workspace).filter(provider=provider.name).first()
    )
    previous = decrypt_json(existing.encrypted_credentials) if existing else {}
    cleaned = _clean_credentials(provider, credentials, previous)
    if validate:
        with provider_errors():
            provider.validate_credentials(cleaned)
    return cleaned


def provider_credentials_store(
    *, workspace: Workspace, provider_name: str, cleaned: Mapping[str, str], validated: bool
) -> ProviderCredential:
    """Save credentials that ``provider_credentials_prepare`` accepted, encrypted."""
    with transaction.atomic():
        credential, _ = ProviderCredential.objects.update_or_create(
            workspace=workspace,
            provider=provider_name,
            defaults={
                "encrypted_credentials": encrypt_json(dict(cleaned)),
                "is_valid": True if validated else None,
                "last_validated_at": timezone.now() if validated else None,
                "last_error": "",
            },
        )
    _forget_credentials(workspace, provider_name)
    logger.info("credentials for %s saved in workspace %s", provider_name, workspace.pk)
    return credential


def provider_credentials_set(
    *,
    workspace: Workspace,
    provider_name: str,
    credentials: Mapping[str, Any],
    validate: bool = True,
) -> ProviderCredential:
    cleaned = provider_credentials_prepare(
        workspace=workspace, provider_name=provider_name, credentials=credentials, validate=validate
    )
    return provider_credentials_store(
        workspace=workspace,
        provider_name=provider_get(provider_name).name,
        cleaned=cleaned,
        validated=validate,
    )


# Decrypted credentials, per (workspace, provider), for a few seconds: a chat message reads
# them several times on its hot path. Writes here drop the entry; other processes see a
# change within CREDENTIALS_CACHE_SECONDS.
CREDENTIALS_CACHE_SECONDS = 2.0
_credentials_cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


def _forget_credentials(workspace: Workspace, provider_name: str) -> None:
    _credentials_cache.pop((str(workspace.pk), provider_name), None)


@receiver(setting_changed)
def _keys_changed(setting: str, **kwargs: Any) -> None:
    if setting in ("CREDENTIALS_ENCRYPTION_KEYS", "SECRET_KEY"):
        _credentials_cache.clear()


def provider_credentials_get(*, workspace: Workspace, provider_name: str) -> dict[str, str]:
    key = (str(workspace.pk), provider_name)
    cached = _credentials_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CREDENTIALS_CACHE_SECONDS:
        return dict(cached[1])
    values = _credentials_load(workspace=workspace, provider_name=provider_name)
    _credentials_cache[key] = (time.monotonic(), values)
    return dict(values)


def _credentials_load(*, workspace: Workspace, provider_name: str) -> dict[str, str]:
    provider = provider_get(provider_name)
    credential = (
        ProviderCredential.objects.for_workspace(workspace).filter(provider=provider.name).first()
    )
    if credential is None:
        if not any(f.required for f in provider.credential_schema):
            return {}  # e.g. the offline MiniLM provider needs no setup
        raise ProviderNotInitialized(
            f"Provider {provider.name} is not set up in this workspace; add its credentials first"
        )
    return decrypt_json(credential.encrypted_credentials)


def provider_credentials_masked(credential: ProviderCredential) -> dict[str, str]:
    provider = provider_get(credential.provider)
    secret = {f.name for f in provider.credential_schema if f.is_secret}
    values = decrypt_json(credential.encrypted_credentials)
    return {k: mask_secret(v) if k in secret else v for k, v in values.items()}


def provider_credentials_validate(*, credential: ProviderCredential) -> tuple[bool, str]:
    """Make a real call with the stored credentials and record the outcome."""
    provider = provider_get(credential.provider)
    error = ""
    try:
        provider.validate_credentials(decrypt_json(credential.encrypted_credentials))
    except (ProviderError, AppError) as exc:
        error = str(exc)
    credential.is_valid = not error
    credential.last_error = error
    credential.last_validated_at = timezone.now()
    credential.save(update_fields=["is_valid", "last_error", "last_validated_at", "updated_at"])
    return credential.is_valid, error


def provider_credentials_delete(*, workspace: Workspace, provider_name: str) -> None:
    deleted, _ = (
        ProviderCredential.objects.for_workspace(workspace).filter(provider=provider_name).delete()
    )
    _forget_credentials(workspace, provider_name)
    if not deleted:
        raise NotFound(f"provider {provider_name!r} is not set up in this workspace")
    DefaultModel.objects.for_workspace(workspace).filter(provider=provider_name).delete()


@dataclass(frozen=True)
class WorkspaceModel:
    provider: str
    model: str
    model_type: str
    is_default: bool
    info: ModelInfo


def models_list(*, workspace: Workspace, model_type: str | None = None) -> list[WorkspaceModel]:
    """Every model the workspace can call: configured providers plus credential-free ones."""
    defaults = {
        (d.model_type, d.provider, d.model) for d in DefaultModel.objects.for_workspace(workspace)
    }
    configured = {c.provider: c for c in ProviderCredential.objects.for_workspace(workspace)}
    result: list[WorkspaceModel] = []
    for provider in providers.all():
        needs_setup = any(f.required for f in provider.credential_schema)
        if needs_setup and provider.name not in configured:
            continue
        credential = configured.get(provider.name)
        credentials = decrypt_json(credential.encrypted_credentials) if credential else {}
        try:
            infos = provider.list_models(credentials)
        except ProviderError as exc:
            logger.warning("listing models of %s failed: %s", provider.name, exc)
            continue
        for info in infos:
            kind = info.model_type.value
            if model_type and kind != model_type:
                continue
            is_default = (kind, provider.name, info.model) in defaults
            result.append(WorkspaceModel(provider.name, info.model, kind, is_default, info))
    return result


def default_model_check(
    *, workspace: Workspace, model_type: str, provider_name: str, model: str
) -> tuple[str, str, str]:
    """Raise unless the workspace can call ``model`` of ``provider_name`` as ``model_type``."""
    try:
        kind = ModelType(model_type)
    except ValueError as exc:
        raise InvalidParam(f"unknown model type {model_type!r}") from exc
    provider = provider_get(provider_name)
    available = [
        m.model
        for m in models_list(workspace=workspace, model_type=kind.value)
        if m.provider == provider.name
    ]
    if model not in available:
        raise InvalidParam(
            f"{provider.name} has no {kind.value} model {model!r} in this workspace; "
            f"available: {', '.join(available) or 'none (set up the provider first)'}"
        )
    return kind.value, provider.name, model


def default_model_set(
    *, workspace: Workspace, model_type: str, provider_name: str, model: str
) -> DefaultModel:
    kind, provider, model = default_model_check(
        workspace=workspace, model_type=model_type, provider_name=provider_name, model=model
    )
    default, _ = DefaultModel.objects.update_or_create(
        workspace=workspace, model_type=kind, defaults={"provider": provider, "model": model}
    )
    return default


def default_model_get(*, workspace: Workspace, model_type: str) -> DefaultModel | None:
    return DefaultModel.objects.for_workspace(workspace).filter(model_type=model_type).first()


# -- prices ------------------------------------------------------------------------------------
# Looked up when a call's usage is known (after its last token), cached like credentials.
_prices_cache: dict[tuple[str, str, str], tuple[float, ModelPricing | None]] = {}


@receiver(post_save, sender=ModelPrice)
@receiver(post_delete, sender=ModelPrice)
def _price_changed(**kwargs: Any) -> None:
    _prices_cache.clear()


def model_pricing(*, workspace: Workspace, provider_name: str, model: str) -> ModelPricing | None:
    """The operator's price for the model (ModelPrice), else the provider's list price."""
    key = (str(workspace.pk), provider_name, model)
    cached = _prices_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CREDENTIALS_CACHE_SECONDS:
        return cached[1]
    row = (
        ModelPrice.objects.for_workspace(workspace)
        .filter(provider=provider_name, model=model)
        .first()
    )
    if row is not None:
        pricing: ModelPricing | None = ModelPricing(
            row.input_price, row.output_price, row.unit, row.currency
        )
    else:
        pricing = provider_get(provider_name).list_price(model)
    _prices_cache[key] = (time.monotonic(), pricing)
    return pricing


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidParam(f"{name} must be a number, not {value!r}") from exc
    if not number.is_finite() or number < 0:
        raise InvalidParam(f"{name} must be a number of 0 or more")
    return number


def model_price_set(
    *,
    workspace: Workspace,
    provider_name: str,
    model: str,
    input_price: Any,
    output_price: Any = 0,
    unit: Any = "0.000001",
    currency: str = "USD",
) -> ModelPrice:
    """Set the workspace's price of a model (replaces the provider's list price)."""
    provider = provider_get(provider_name)
    if not str(model or "").strip():
        raise InvalidParam("model is required")
    price_unit = _decimal(unit, "unit")
    if price_unit == 0:
        raise InvalidParam("unit must be more than 0 (0.000001: prices per million tokens)")
    currency = str(currency or "USD").strip().upper()
    if not currency.isalpha() or len(currency) > 8:
        raise InvalidParam("currency must be a currency code such as USD")
    price, _ = ModelPrice.objects.update_or_create(
        workspace=workspace, provider=provider.name, model=str(model).strip(),
        defaults={
            "input_price": _decimal(input_price, "input price"),
            "output_price": _decimal(output_price, "output price"),
            "unit": price_unit, "currency": currency,
        },
    )  # fmt: skip
    return price


class WorkspaceModelRuntime:
    """Model calls on behalf of one workspace, with its credentials and defaults.

    This is what the workflow engine's ``ModelRuntime`` port and the app runners use.
    """

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def _resolve(
        self, model_type: ModelType, provider: str | None, model: str | None
    ) -> tuple[ModelProvider, dict[str, str], str]:
        if not provider or not model:
            default = default_model_get(workspace=self.workspace, model_type=model_type.value)
            if default is None:
                raise ProviderNotInitialized(
                    f"No default {model_type.value} model is set for this workspace; "
                    "set one in the admin or with `manage.py set_provider --default-…`"
                )
            provider, model = default.provider, default.model
        runtime = provider_get(provider)
        credentials = provider_credentials_get(workspace=self.workspace, provider_name=provider)
        return runtime, credentials, model

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        provider: str | None = None,
        model: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> LLMResult:
        runtime, credentials, model = self._resolve(ModelType.LLM, provider, model)
        with provider_errors():
            result = runtime.chat(
                credentials,
                model,
                messages,
                parameters=parameters,
                tools=tools,
                stop=stop,
                user=user,
            )
        return replace(result, usage=self.priced(result.usage, runtime.name, model))

    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        provider: str | None = None,
        model: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        stop: Sequence[str] | None = None,
        user: str | None = None,
    ) -> Iterator[LLMChunk]:
        runtime, credentials, model = self._resolve(ModelType.LLM, provider, model)
        release_connection()  # no DB connection held while the model streams
        with provider_errors():
            for chunk in runtime.chat_stream(
                credentials,
                model,
                messages,
                parameters=parameters,
                tools=tools,
                stop=stop,
                user=user,
            ):
                if chunk.usage is not None:  # the last chunk: price it
                    chunk = replace(chunk, usage=self.priced(chunk.usage, runtime.name, model))
                yield chunk

    def priced(self, usage: Usage, provider: str, model: str) -> Usage:
        """``usage`` with its cost at the model's price (unchanged when it has none)."""
        cost = self.cost(provider, model, usage.prompt_tokens, usage.completion_tokens)
        return usage if cost is None else replace(usage, cost=cost)

    def cost(
        self, provider: str | None, model: str | None, prompt_tokens: int, completion_tokens: int
    ) -> UsageCost | None:
        """What these tokens cost on the model (the default LLM when none is named); None
        when the model has no price."""
        if not provider or not model:
            default = default_model_get(workspace=self.workspace, model_type=ModelType.LLM.value)
            if default is None:
                return None
            provider, model = default.provider, default.model
        pricing = model_pricing(workspace=self.workspace, provider_name=provider, model=model)
        return pricing.cost(prompt_tokens, completion_tokens) if pricing else None

    def embed(
        self, texts: Sequence[str], *, provider: str | None = None, model: str | None = None
    ) -> EmbeddingResult:
        runtime, credentials, model = self._resolve(ModelType.TEXT_EMBEDDING, provider, model)
        with provider_errors():
            return runtime.embed(credentials, model, texts)

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        provider: str | None = None,
        model: str | None = None,
        top_n: int | None = None,
    ) -> RerankResult:
        """Documents by relevance (the workspace's default rerank model when none is named)."""
        runtime, credentials, model = self._resolve(ModelType.RERANK, provider, model)
        with provider_errors():
            return runtime.rerank(credentials, model, query, documents, top_n=top_n)

    def moderate(
        self, text: str, *, provider: str | None = None, model: str | None = None
    ) -> ModerationResult:
        """Ask a moderation model (the workspace's default one when none is named)."""
        return self.moderator(provider=provider, model=model)(text)

    def moderator(
        self, *, provider: str | None = None, model: str | None = None
    ) -> Callable[[str], ModerationResult]:
        """``moderate`` with the model and credentials looked up now: the function it
        returns needs no database (a stream's output checks run on another thread)."""
        runtime, credentials, name = self._resolve(ModelType.MODERATION, provider, model)

        def moderate(text: str) -> ModerationResult:
            with provider_errors():
                return runtime.moderate(credentials, name, text)

        return moderate

    def speech_to_text(
        self,
        audio: bytes,
        *,
        filename: str,
        mime_type: str,
        provider: str | None = None,
        model: str | None = None,
    ) -> str:
        """The transcript of an audio file (the default speech2text model when none is named)."""
        runtime, credentials, model = self._resolve(ModelType.SPEECH2TEXT, provider, model)
        release_connection()  # no DB connection held while the model listens
        with provider_errors():
            return runtime.speech_to_text(credentials, model, audio, filename, mime_type)

    def text_to_speech(
        self,
        text: str,
        *,
        voice: str | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> Iterator[bytes]:
        """``text`` spoken (the default tts model when none is named; with no ``voice``, the
        model's default one). The model is resolved now; the request goes out on the first
        ``next()``, which raises the provider's errors as coded ones."""
        runtime, credentials, model = self._resolve(ModelType.TTS, provider, model)
        if not voice:
            with provider_errors():
                voice = next(iter(runtime.tts_voices(credentials, model)), "")
        if not voice:
            raise InvalidParam(f"Sorry, no voice available for {model}.")
        return _speech(runtime, credentials, model, text, voice)


def _speech(
    runtime: ModelProvider, credentials: dict[str, str], model: str, text: str, voice: str
) -> Iterator[bytes]:
    release_connection()  # no DB connection held while the audio streams
    with provider_errors():
        yield from runtime.text_to_speech(credentials, model, text, voice)
