"""Service API audio: ``POST /v1/audio-to-text`` and ``POST /v1/text-to-audio``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.db import release_connection
from apps.core.errors import InvalidParam
from apps.workflows import audio_services

from . import openapi as doc
from .base import WEB_OR_APP_KEY, ServiceAPIView

logger = logging.getLogger(__name__)


class AudioToTextView(ServiceAPIView):
    """Multipart ``file`` (+ ``user``) → ``{"text": …}``."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Audio", "Speech to text", request={"multipart/form-data": doc.AudioToTextRequest},
        responses=doc.AudioToTextResponse, errors=(400, 401, 413, 415),
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        self.end_user(request, required=False)  # Dify records the caller as an end user
        uploaded = request.FILES.get("file")
        return Response(audio_services.audio_transcribe(app=self.app, uploaded=uploaded))


class TextToAudioView(ServiceAPIView):
    """JSON ``{message_id?, text?, voice?, streaming?, user?}`` → ``audio/mpeg``, streamed."""

    authentication_classes = WEB_OR_APP_KEY

    @doc.service_api(
        "Audio", "Text to speech (audio/mpeg, streamed)", request=doc.TextToAudioRequest,
        responses={(200, "audio/mpeg"): OpenApiTypes.BINARY}, errors=(400, 401, 404),
    )  # fmt: skip
    def post(self, request: Request) -> StreamingHttpResponse:
        body = request.data
        if not isinstance(body, dict):
            raise InvalidParam("the body must be a JSON object")
        chunks = audio_services.text_to_audio(
            app=self.app, end_user=self.end_user(request, required=False),
            message_id=body.get("message_id"), text=body.get("text"),
            voice=body.get("voice"), streaming=body.get("streaming"),
        )  # fmt: skip
        release_connection()  # the database work is done; the audio streams for a while
        response = StreamingHttpResponse(_sent_as_read(chunks), content_type="audio/mpeg")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


async def _sent_as_read(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each chunk to the client as soon as the provider sent it. The (blocking) reads run
    in one worker thread of this stream, so closing it on a client's disconnect queues
    behind a read still running instead of racing it."""
    loop = asyncio.get_running_loop()
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-stream")
    try:
        while (chunk := await loop.run_in_executor(worker, _next_chunk, chunks)) is not None:
            yield chunk
    finally:
        worker.submit(_close, chunks)
        worker.shutdown(wait=False)


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    try:
        return next(chunks, None)
    except Exception:  # the status line is sent already: end the body, keep the reason
        logger.exception("text-to-audio stream broke off")
        return None


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        logger.exception("closing a text-to-audio stream failed")
