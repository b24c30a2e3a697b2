"""Files of the simple modes (chat, agent-chat, completion): the app's ``file_upload``
settings, the check of a request's ``files`` against them, and images for the model.

``model_config.file_upload`` comes in Dify's two shapes: the current one (``enabled``,
``allowed_file_types``, ``allowed_file_extensions``, ``allowed_file_upload_methods``,
``number_limits``, ``image.detail``) and the older image-only one (``image: {enabled,
number_limits, detail, transfer_methods}``). As in Dify, files sent to an app whose upload
is off are ignored; files that break the settings are a 400. Images go to the model as
``image_url`` parts of the user message (uploaded ones inline as ``data:`` URLs, remote
ones by URL) with the settings' ``detail``; other file types are stored with the message.
While the upload is on, the images of the conversation's earlier turns go with their
queries again (as Dify's memory does: with the app's ``detail`` if set, else ``low``); one
whose upload is gone is left out.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apps.core.errors import InvalidParam
from apps.providers.runtime.base import ChatMessage
from apps.workflows.engine.errors import NodeError
from apps.workflows.engine.nodes.prompting import with_images
from apps.workflows.file_services import UploadFileReader
from apps.workflows.models import App

logger = logging.getLogger(__name__)
METHODS = ("local_file", "remote_url")
DEFAULT_NUMBER_LIMIT = 3


@dataclass(frozen=True)
class FileUploadSettings:
    enabled: bool = False
    types: tuple[str, ...] = ("image",)
    extensions: tuple[str, ...] = ()  # for the "custom" type, e.g. (".zip",)
    methods: tuple[str, ...] = METHODS
    number_limit: int = DEFAULT_NUMBER_LIMIT
    detail: str = "high"
    history_detail: str = "low"  # images of earlier turns: the app's detail if set, else low


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def file_upload_settings(config: Mapping[str, Any]) -> FileUploadSettings:
    raw = config.get("file_upload")
    if not isinstance(raw, Mapping):
        return FileUploadSettings()
    found = raw.get("image")
    image: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    enabled = bool(raw.get("enabled")) or bool(image.get("enabled"))
    if not enabled:
        return FileUploadSettings()
    try:
        limit = int(raw.get("number_limits") or image.get("number_limits") or DEFAULT_NUMBER_LIMIT)
    except (TypeError, ValueError) as exc:
        raise InvalidParam("file_upload.number_limits must be a number") from exc
    methods = _strings(raw.get("allowed_file_upload_methods")) or _strings(
        image.get("transfer_methods")
    )
    return FileUploadSettings(
        enabled=True,
        types=_strings(raw.get("allowed_file_types")) or ("image",),
        extensions=tuple(e.lower() for e in _strings(raw.get("allowed_file_extensions"))),
        methods=methods or METHODS,
        number_limit=max(0, limit),
        detail=str(image.get("detail") or "high"),
        history_detail=str(image.get("detail") or "low"),
    )


def files_allowed(
    settings: FileUploadSettings, files: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The request's files the app takes: none when its upload is off, else all of them
    after the checks (``invalid_param`` for a type, method or count it does not allow)."""
    if not settings.enabled or not files:
        return []
    if len(files) > settings.number_limit:
        raise InvalidParam(f"files: at most {settings.number_limit} files are allowed")
    for file in files:
        kind, method = file.get("type"), file.get("transfer_method")
        if kind not in settings.types:
            raise InvalidParam(f"files: type {kind!r} is not allowed by the app")
        if method not in settings.methods:
            raise InvalidParam(f"files: transfer_method {method!r} is not allowed by the app")
        extension = str(file.get("extension") or "").lower()
        if kind == "custom" and settings.extensions and extension not in settings.extensions:
            raise InvalidParam(f"files: extension {extension!r} is not allowed by the app")
    return [dict(f) for f in files]


def image_parts(app: App, files: Sequence[Mapping[str, Any]], detail: str) -> list[dict[str, Any]]:
    """The images among ``files`` as OpenAI ``image_url`` content parts."""
    reader = UploadFileReader(app.workspace)
    return [_image_part(reader, f, detail) for f in files if f.get("type") == "image"]


def _image_part(reader: UploadFileReader, file: Mapping[str, Any], detail: str) -> dict[str, Any]:
    url = file.get("remote_url") if file.get("transfer_method") == "remote_url" else None
    if not url:
        try:
            data = reader.read(file)
        except NodeError as exc:
            raise InvalidParam(f"files: {exc}") from exc
        mime = str(file.get("mime_type") or "image/png")
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def messages_with_images(
    app: App,
    messages: list[ChatMessage],
    files: Sequence[Mapping[str, Any]],
    settings: FileUploadSettings,
) -> list[ChatMessage]:
    """The prompt with the request's images on its last user message."""
    return with_images(messages, image_parts(app, files, settings.detail))


def history_with_images(
    app: App, history: Sequence[Mapping[str, Any]], settings: FileUploadSettings
) -> list[Mapping[str, Any]]:
    """The history turns, those that came with images carrying them as ``images`` parts
    (none while the app's upload is off; an image that cannot be read any more is skipped)."""
    if not settings.enabled:
        return list(history)
    reader = UploadFileReader(app.workspace)
    turns: list[Mapping[str, Any]] = []
    for turn in history:
        images = []
        for file in turn.get("files") or ():
            if not isinstance(file, Mapping) or file.get("type") != "image":
                continue
            try:
                images.append(_image_part(reader, file, settings.history_detail))
            except InvalidParam as exc:
                logger.info("an image of an earlier turn is left out: %s", exc)
        turns.append({**turn, "images": images} if images else turn)
    return turns
