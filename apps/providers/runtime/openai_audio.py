"""Speech to text and text to speech over the OpenAI audio API (``/audio/transcriptions``,
``/audio/speech``), with the SDK client the provider already built (so through its HTTP
client, e.g. the SSRF-guarded one).

OpenAI reads at most ``SPEECH_INPUT_LIMIT`` characters per speech request: longer text is
cut at sentence ends (else at spaces) and spoken piece by piece into one stream; MP3 frames
of consecutive answers simply follow each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import openai

SPEECH_INPUT_LIMIT = 4096  # characters per /audio/speech request (OpenAI's limit)
# A sentence ends at . ! ? (or their CJK forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def transcribe(
    client: openai.OpenAI, model: str, audio: bytes, filename: str, mime_type: str
) -> str:
    """``POST /audio/transcriptions`` (multipart, JSON answer): the transcript."""
    result = client.audio.transcriptions.create(
        model=model, file=(filename, audio, mime_type), response_format="json"
    )
    return str(getattr(result, "text", "") or "")


def split_for_speech(text: str, limit: int = SPEECH_INPUT_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut between sentences where it
    can, else between words, else anywhere; blank pieces are dropped."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    current = ""
    for sentence in _units(text, limit):
        joined = f"{current} {sentence}" if current else sentence
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            pieces.append(current)
        current = sentence
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, limit: int) -> Iterator[str]:
    """Sentences no longer than ``limit`` (long ones cut at spaces, then hard)."""
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > 0 else limit
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def speak(
    client: openai.OpenAI, model: str, text: str, voice: str, audio_format: str = "mp3"
) -> Iterator[bytes]:
    """``POST /audio/speech`` per piece of ``text``; the audio bytes as they arrive.

    Transport errors while reading are raised as the SDK's connection errors."""
    speech = client.audio.speech.with_streaming_response
    for piece in split_for_speech(text):
        with speech.create(
            model=model,
            input=piece,
            voice=voice,
            response_format=audio_format,  # type: ignore[arg-type]
        ) as response:
            try:
                for chunk in response.iter_bytes():  # as received, not re-buffered
                    if chunk:
                        yield chunk
            except httpx2.TimeoutException as exc:
                raise openai.APITimeoutError(request=response.http_request) from exc
            except httpx2.RequestError as exc:
                raise openai.APIConnectionError(request=response.http_request) from exc
