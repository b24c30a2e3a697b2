"""Uploaded files: ``POST /v1/files/upload``, previews, the API ``files`` field, and the
engine's FileReader port.

Files go to Django's default storage (local disk or GCS). Limits (MB) come from settings or
the environment: ``UPLOAD_FILE_SIZE_LIMIT`` (15), ``UPLOAD_IMAGE_FILE_SIZE_LIMIT`` (10),
``UPLOAD_AUDIO_FILE_SIZE_LIMIT`` (50), ``UPLOAD_VIDEO_FILE_SIZE_LIMIT`` (100),
``WORKFLOW_FILE_UPLOAD_LIMIT`` (10 files per request).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import posixpath
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from apps.core.errors import AppError, InvalidParam
from apps.tenants.models import Workspace
from apps.workflows.engine.errors import NodeError
from apps.workflows.models import App, EndUser, UploadFile

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "svg"})
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "wav", "amr", "mpga", "ogg", "webm"})
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "mpeg", "webm"})
DOCUMENT_EXTENSIONS = frozenset(
    {
        "txt", "markdown", "md", "mdx", "pdf", "html", "htm", "xlsx", "xls", "vtt",
        "properties", "doc", "docx", "csv", "eml", "msg", "pptx", "ppt", "xml", "epub",
        "json", "yaml", "yml",
    }
)  # fmt: skip
FILE_TYPES = ("image", "document", "audio", "video", "custom")
FILE_IDENTITY = "__dify__file__"


class FileTooLarge(AppError):
    code, status = "file_too_large", 413


class UnsupportedFileType(AppError):
    code, status = "unsupported_file_type", 415


class FileNotFound(AppError):
    code, status = "file_not_found", 404


class FileAccessDenied(AppError):
    code, status = "file_access_denied", 403


@dataclass(frozen=True)
class UploadLimits:
    file_mb: int
    image_mb: int
    audio_mb: int
    video_mb: int
    workflow_files: int


def _setting(name: str, default: int) -> int:
    value: Any = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def upload_limits() -> UploadLimits:
    return UploadLimits(
        file_mb=_setting("UPLOAD_FILE_SIZE_LIMIT", 15),
        image_mb=_setting("UPLOAD_IMAGE_FILE_SIZE_LIMIT", 10),
        audio_mb=_setting("UPLOAD_AUDIO_FILE_SIZE_LIMIT", 50),
        video_mb=_setting("UPLOAD_VIDEO_FILE_SIZE_LIMIT", 100),
        workflow_files=_setting("WORKFLOW_FILE_UPLOAD_LIMIT", 10),
    )


def file_type_of(extension: str) -> str:
    """Dify's file type for an extension (without the dot)."""
    extension = extension.lower().lstrip(".")
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in VIDEO_EXTENSIONS and extension != "webm":
        return "video"
    if extension in AUDIO_EXTENSIONS:
        return "audio"
    if extension in DOCUMENT_EXTENSIONS:
        return "document"
    return "custom"


def _limit_bytes(extension: str) -> int:
    limits = upload_limits()
    megabytes = {
        "image": limits.image_mb, "audio": limits.audio_mb, "video": limits.video_mb,
    }.get(file_type_of(extension), limits.file_mb)  # fmt: skip
    return megabytes * 1024 * 1024


def file_upload(*, app: App, end_user: EndUser, uploaded: UploadedFile) -> UploadFile:
    """Store one uploaded file for (app, end user); Dify's checks and error codes."""
    name = os.path.basename((uploaded.name or "").replace("\\", "/")).strip()
    if not name:
        raise AppError("The specified filename does not exist.", code="filename_not_exists_error")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else name[:200]
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    allowed = IMAGE_EXTENSIONS | AUDIO_EXTENSIONS | VIDEO_EXTENSIONS | DOCUMENT_EXTENSIONS
    if not extension or extension not in allowed:
        raise UnsupportedFileType("File type not allowed.")
    size = int(uploaded.size or 0)
    limit = _limit_bytes(extension)
    if size > limit:
        raise FileTooLarge(f"File size exceeded. {size} > {limit}")
    mime_type = (
        (
            (uploaded.content_type or "").split(";")[0].strip()
            if uploaded.content_type and uploaded.content_type != "application/octet-stream"
            else ""
        )
        or mimetypes.guess_type(name)[0]
        or "application/octet-stream"
    )
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    record = UploadFile(
        workspace_id=app.workspace_id, app=app, end_user=end_user, name=name, size=size,
        extension=extension, mime_type=mime_type[:255], sha256=digest.hexdigest(),
    )  # fmt: skip
    record.file.save(name, uploaded, save=False)
    record.save()
    return record


def file_payload(upload: UploadFile) -> dict[str, Any]:
    """Dify's FileUploadResponse."""
    return {
        "id": str(upload.pk),
        "name": upload.name,
        "size": upload.size,
        "extension": upload.extension,
        "mime_type": upload.mime_type,
        "created_by": str(upload.end_user_id) if upload.end_user_id else None,
        "created_at": int(upload.created_at.timestamp()),
        "preview_url": None,
        "source_url": f"/v1/files/{upload.pk}/preview",
        "original_url": None,
        "user_id": str(upload.end_user_id) if upload.end_user_id else None,
        "tenant_id": str(upload.workspace_id),
        "conversation_id": None,
        "file_key": None,
    }


def _parse_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (TypeError, ValueError, AttributeError):
        return None


def file_for_preview(*, app: App, end_user: EndUser | None, file_id: str) -> UploadFile:
    """The file, if the caller (app, end user) uploaded it; 404 / 403 otherwise."""
    pk = _parse_uuid(file_id)
    upload = (
        UploadFile.objects.for_workspace(app.workspace_id).filter(pk=pk).first() if pk else None
    )
    if upload is None:
        raise FileNotFound("File not found.")
    if upload.app_id != app.pk or end_user is None or upload.end_user_id != end_user.pk:
        raise FileAccessDenied("Access to the requested file is denied.")
    return upload


def _local_file(app: App, end_user: EndUser, item: Mapping[str, Any]) -> dict[str, Any]:
    pk = _parse_uuid(item.get("upload_file_id"))
    upload = (
        UploadFile.objects.for_workspace(app.workspace_id)
        .filter(pk=pk, app=app, end_user=end_user)
        .first()
        if pk
        else None
    )
    if upload is None:
        raise InvalidParam(f"files: upload file {item.get('upload_file_id')!r} not found")
    declared = item.get("type")
    if declared != "custom" and declared != file_type_of(upload.extension):
        raise InvalidParam("files: detected file type does not match the specified type")
    return {
        "dify_model_identity": FILE_IDENTITY, "id": None, "tenant_id": str(app.workspace_id),
        "type": declared, "transfer_method": "local_file", "upload_file_id": str(upload.pk),
        "related_id": str(upload.pk), "remote_url": None, "url": None,
        "filename": upload.name, "extension": f".{upload.extension}" if upload.extension else "",
        "mime_type": upload.mime_type, "size": upload.size,
    }  # fmt: skip


def _remote_file(app: App, item: Mapping[str, Any]) -> dict[str, Any]:
    url = item.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise InvalidParam("files: url must be an http(s) URL")
    filename = posixpath.basename(unquote(urlsplit(url).path)) or "file"
    extension = os.path.splitext(filename)[1].lower()
    return {
        "dify_model_identity": FILE_IDENTITY, "id": None, "tenant_id": str(app.workspace_id),
        "type": item.get("type"), "transfer_method": "remote_url", "upload_file_id": None,
        "related_id": None, "remote_url": url, "url": url, "filename": filename,
        "extension": extension, "size": -1,
        "mime_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
    }  # fmt: skip


def files_from_request(*, app: App, end_user: EndUser, files_field: Any) -> list[dict[str, Any]]:
    """The API ``files`` field (Dify's InputFileObject list) as engine file dicts."""
    if files_field in (None, ""):
        return []
    if not isinstance(files_field, list):
        raise InvalidParam("files must be a list")
    if len(files_field) > upload_limits().workflow_files:
        raise InvalidParam(f"files: at most {upload_limits().workflow_files} files are allowed")
    result = []
    for item in files_field:
        if not isinstance(item, Mapping):
            raise InvalidParam("files: each file must be an object")
        if item.get("type") not in FILE_TYPES:
            raise InvalidParam(f"files: type must be one of {', '.join(FILE_TYPES)}")
        method = item.get("transfer_method")
        if method == "local_file":
            result.append(_local_file(app, end_user, item))
        elif method == "remote_url":
            result.append(_remote_file(app, item))
        else:
            raise InvalidParam("files: transfer_method must be local_file or remote_url")
    return result


class UploadFileReader:
    """The engine's FileReader port: the bytes of a file dict, within one workspace."""

    def __init__(self, workspace: Workspace | Any, http_client: Any = None):
        self.workspace_id = getattr(workspace, "pk", workspace)
        self._http = http_client

    def read(self, file: Mapping[str, Any]) -> bytes:
        method = file.get("transfer_method")
        if file.get("content_base64"):
            return base64.b64decode(str(file["content_base64"]))
        file_id = file.get("upload_file_id") or file.get("related_id")
        if method in ("local_file", None) and file_id:
            pk = _parse_uuid(file_id)
            upload = (
                UploadFile.objects.for_workspace(self.workspace_id).filter(pk=pk).first()
                if pk
                else None
            )
            if upload is None:
                raise NodeError(f"upload file {file_id} not found")
            with upload.file.open("rb") as handle:
                return bytes(handle.read())
        url = file.get("remote_url") or file.get("url")
        if method == "remote_url" and url:
            return self._fetch(str(url))
        raise NodeError(f"cannot read file {file.get('filename') or ''!s} ({method})")

    def _fetch(self, url: str) -> bytes:
        from apps.tools.http_guard import BlockedRequestError
        from apps.tools.outbound import guarded_client

        client = self._http or guarded_client()
        try:
            response = client.request("GET", url)
        except BlockedRequestError as exc:
            raise NodeError(str(exc)) from exc
        except (TimeoutError, OSError) as exc:
            raise NodeError(f"cannot download {url}: {exc}") from exc
        if response.status_code >= 400:
            raise NodeError(f"cannot download {url}: HTTP {response.status_code}")
        return bytes(response.content)
