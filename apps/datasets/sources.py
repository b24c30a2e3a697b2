"""Where a document's text comes from: its stored file (uploads and text documents) or its
URL (fetched through the SSRF-guarded client), turned into text by the shared extractors."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.datasets.models import Document
from apps.tools.http_guard import BlockedRequestError, GuardedHttpClient
from apps.tools.outbound import guarded_client
from apps.workflows.engine.extract import ExtractionError, extension_for, extract_text


class SourceError(Exception):
    """The document's content cannot be read or turned into text (message for the user)."""


def fetch_url(url: str, *, client: GuardedHttpClient | None = None) -> tuple[bytes, str]:
    """The body and content type of ``url`` (http/https only, internal addresses refused)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError("only http and https URLs can be fetched")
    try:
        response = (client or guarded_client()).request("GET", url)
    except (BlockedRequestError, OSError) as exc:
        raise SourceError(f"cannot fetch {url}: {exc}") from exc
    if response.status_code >= 400:
        raise SourceError(f"cannot fetch {url}: HTTP {response.status_code}")
    return response.content, response.content_type


def document_text(document: Document) -> str:
    """The extracted text of the document's stored file or URL."""
    try:
        if document.source_file:
            with document.source_file.open("rb") as handle:
                content = handle.read()
            return extract_text(
                content, extension=document.file_extension, mime_type=document.mime_type
            )
        if document.source_url:
            content, content_type = fetch_url(document.source_url)
            path = urlsplit(document.source_url).path
            extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
            try:
                kind = extension_for(extension=extension, mime_type=content_type)
            except ExtractionError:
                kind = "html"
            return extract_text(content, extension=kind)
    except ExtractionError as exc:
        raise SourceError(str(exc)) from exc
    except OSError as exc:
        raise SourceError(f"cannot read the stored file: {exc}") from exc
    raise SourceError("the document has no file, text or URL to index")
