"""Dify's audio endpoints: an uploaded recording to text, a text (or an answer) to speech.

Speech to text needs the app's ``speech_to_text.enabled``, text to speech its
``text_to_speech.enabled`` (and ``voice``): from ``model_config`` in simple modes, from the
workflow's ``features`` in chatflow / workflow apps, as ``GET /v1/parameters`` reports them.
The models are the workspace's default ``speech2text`` and ``tts`` models. Recordings are
mp3 / mpga / m4a / wav / amr (Dify's list) or mp4 / webm / mpeg, at most
``AUDIO_TO_TEXT_FILE_SIZE_LIMIT`` MB (30, as in Dify).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from apps.core.errors import AppError, InvalidParam
from apps.providers.runtime import errors as runtime_errors
from apps.providers.services import WorkspaceModelRuntime
from apps.workflows.chat.records import message_get
from apps.workflows.models import App, EndUser
from apps.workflows.parameters import app_features

# Accepted ``audio/<subtype>`` types and the file extension sent to the model for each.
AUDIO_TYPES = {
    "mp3": "mp3", "mpga": "mpga", "mpeg": "mp3", "m4a": "m4a", "x-m4a": "m4a", "mp4": "mp4",
    "wav": "wav", "x-wav": "wav", "wave": "wav", "amr": "amr", "webm": "webm",
}  # fmt: skip
AUDIO_EXTENSIONS = frozenset(AUDIO_TYPES.values())
_INVOKE_CODES = frozenset(
    error.code
    for error in (
        runtime_errors.InvokeAuthorizationError,
        runtime_errors.InvokeRateLimitError,
        runtime_errors.InvokeConnectionError,
        runtime_errors.InvokeServerUnavailableError,
        runtime_errors.InvokeBadRequestError,
    )
)


class SpeechToTextDisabled(AppError):
    code, status = "speech_to_text_disabled", 400

    def __init__(self, message: str = "Speech to text is not enabled for this app."):
        super().__init__(message)


class NoAudioUploaded(AppError):
    code, status = "no_audio_uploaded", 400

    def __init__(self, message: str = "Please upload your audio."):
        super().__init__(message)


class AudioTooLarge(AppError):
    code, status = "audio_too_large", 413


class UnsupportedAudioType(AppError):
    code, status = "unsupported_audio_type", 415

    def __init__(self, message: str = "Audio type not allowed."):
        super().__init__(message)


def audio_size_limit() -> int:
    """The largest recording accepted, in bytes."""
    return int(getattr(settings, "AUDIO_TO_TEXT_FILE_SIZE_LIMIT", 30)) * 1024 * 1024


def _feature(app: App, name: str) -> Mapping[str, Any]:
    value = app_features(app=app).get(name)
    return value if isinstance(value, Mapping) else {}


@contextmanager
def _audio_errors(unsupported_code: str) -> Iterator[None]:
    """Model failures as Dify's audio endpoints report them: a provider call that failed
    is ``completion_request_error``; a model type the provider lacks, ``unsupported_code``."""
    try:
        yield
    except AppError as exc:
        if exc.code == runtime_errors.ModelNotSupportedError.code:
            raise AppError(exc.message, code=unsupported_code, status=400) from exc
        if exc.code in _INVOKE_CODES:
            raise AppError(exc.message, code="completion_request_error", status=400) from exc
        raise


def _audio_type(uploaded: UploadedFile) -> tuple[str, str]:
    """The recording's MIME type and the file name to send: the part's type, else (none or
    ``application/octet-stream``) the one its extension names."""
    name = os.path.basename((uploaded.name or "").replace("\\", "/")).strip()
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    declared = (uploaded.content_type or "").split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream") and extension in AUDIO_EXTENSIONS:
        declared = f"audio/{extension}"
    major, _, subtype = declared.partition("/")
    if major != "audio" or subtype not in AUDIO_TYPES:
        raise UnsupportedAudioType()
    if extension not in AUDIO_EXTENSIONS or len(name) > 200:
        name = f"audio.{AUDIO_TYPES[subtype]}"
    return declared, name


def audio_transcribe(*, app: App, uploaded: UploadedFile | None) -> dict[str, str]:
    """``{"text": …}`` for one recording, checked in Dify's order: feature, file, type, size."""
    if not _feature(app, "speech_to_text").get("enabled"):
        raise SpeechToTextDisabled()
    if uploaded is None:
        raise NoAudioUploaded()
    mime_type, filename = _audio_type(uploaded)
    limit = audio_size_limit()
    too_large = AudioTooLarge(f"Audio size larger than {limit // (1024 * 1024)} mb")
    if int(uploaded.size or 0) > limit:
        raise too_large
    uploaded.seek(0)
    audio = uploaded.read(limit + 1)
    if len(audio) > limit:
        raise too_large
    if not audio:
        raise NoAudioUploaded("The audio file is empty.")
    with _audio_errors("provider_not_support_speech_to_text"):
        text = WorkspaceModelRuntime(app.workspace).speech_to_text(
            audio, filename=filename, mime_type=mime_type
        )
    return {"text": text}


def _string(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidParam(f"{name} must be a string")
    return value


def _answer_of(*, app: App, end_user: EndUser | None, message_id: str) -> str:
    """The answer of the caller's own message on this app (404 for anyone else's)."""
    try:
        uuid.UUID(message_id)
    except ValueError as exc:
        raise InvalidParam("message_id must be a UUID") from exc
    answer = message_get(app=app, end_user=end_user, message_id=message_id).answer
    if not answer.strip():
        raise InvalidParam("The message has no answer to read out.")
    return answer


def text_to_audio(
    *,
    app: App,
    end_user: EndUser | None,
    message_id: Any = None,
    text: Any = None,
    voice: Any = None,
    streaming: Any = None,
) -> Iterator[bytes]:
    """The spoken audio (mp3) of the message's answer, else of ``text``, in the request's
    voice, else the app's ``text_to_speech.voice``, else the model's default voice.

    The first chunk has arrived when this returns, so a failed call raises a coded error
    here; ``streaming`` is accepted as Dify accepts it (the audio always streams)."""
    message_id, text = _string(message_id, "message_id"), _string(text, "text")
    voice = _string(voice, "voice")
    if streaming is not None and not isinstance(streaming, bool):
        raise InvalidParam("streaming must be a boolean")
    tts = _feature(app, "text_to_speech")
    if not tts.get("enabled"):
        raise InvalidParam("TTS is not enabled")
    if message_id:
        content = _answer_of(app=app, end_user=end_user, message_id=message_id)
    elif text and text.strip():
        content = text
    else:
        raise InvalidParam("Text is required")
    voice = voice or str(tts.get("voice") or "") or None
    with _audio_errors("model_currently_not_support"):
        chunks = WorkspaceModelRuntime(app.workspace).text_to_speech(content.strip(), voice=voice)
        first = next(chunks, b"")
    return _started(first, chunks)


def _started(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """``first`` then ``rest``; closing it closes ``rest`` (the provider's response)."""
    yield first
    yield from rest
