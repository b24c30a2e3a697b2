"""Dify's ``webscraper`` provider: fetch a page through the guarded client, return its text.

HTML becomes readable text with the same extractor knowledge-base URL ingestion uses
(``engine.extract.extract_html``: scripts, styles and ``<head>`` dropped, block elements as
lines); PDFs, Word files and other documents it knows go through ``extract_text``; plain
text and JSON come back as they are. The page title is read with the standard library's
HTML parser. ``generate_summary`` is accepted for Dify compatibility and ignored (this
tool never calls a model); ``max_length`` caps the text handed back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.message import Message
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)
from apps.tools.builtin._util import http_request
from apps.workflows.engine.extract import (
    ExtractionError,
    extension_for,
    extract_html,
    extract_text,
)

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/100.0.1000.0 Safari/537.36"
)
DEFAULT_MAX_LENGTH = 50_000
FETCH_TIMEOUT = 30.0
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


class _TitleParser(HTMLParser):
    """Collects the text of the first ``<title>`` (the stdlib parser does the parsing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.inside = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.done:
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.inside:
            self.inside, self.done = False, True

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.parts.append(data)


def page_title(html: str) -> str:
    parser = _TitleParser()
    parser.feed(html[:200_000])
    return " ".join("".join(parser.parts).split())


def decode_page(content: bytes, content_type: str) -> str:
    """Text of a page: the header's charset, else a ``<meta charset>``, else UTF-8."""
    message = Message()
    message["content-type"] = content_type or "text/html"
    charset = message.get_content_charset()
    if not charset:
        found = _META_CHARSET.search(content[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _looks_like_html(content: bytes) -> bool:
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def page_text(content: bytes, content_type: str, url: str) -> tuple[str, str]:
    """``(title, text)`` of a fetched resource; raises ToolError for what it cannot read."""
    mime = content_type.split(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml") or (
        mime in ("", "text/plain", "application/octet-stream") and _looks_like_html(content)
    ):
        html = decode_page(content, content_type)
        return page_title(html), extract_html(html.encode("utf-8"))
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+json"):
        return "", decode_page(content, content_type).strip()
    path = urlsplit(url).path
    extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    try:
        kind = extension_for(extension=extension, mime_type=mime)
        return "", extract_text(content, extension=kind)
    except ExtractionError as exc:
        raise ToolError(f"cannot read {url} ({mime or 'unknown type'}): {exc}") from exc


class WebscraperTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="webscraper",
        label="Web Scraper",
        description="A tool for scraping webpages.",
        llm_description=(
            "A tool for scraping webpages. Input should be a URL. Returns the page title and "
            "its readable text."
        ),
        parameters=(
            ToolParameter(
                name="url", required=True, label="URL",
                human_description="used for linking to webpages",
                llm_description="url for scraping",
            ),
            ToolParameter(
                name="user_agent", form="form", label="User Agent",
                human_description="used for identifying the browser.",
                default=DEFAULT_USER_AGENT,
            ),
            ToolParameter(
                name="generate_summary", type="boolean", form="form", default=False,
                label="Whether to generate summary",
                human_description="Accepted for Dify compatibility; the full text is returned.",
            ),
            ToolParameter(
                name="max_length", type="number", form="form", default=DEFAULT_MAX_LENGTH,
                label="Max length", human_description="Longest text returned, in characters.",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        url = str(parameters.get("url") or "").strip()
        if not url:
            raise ToolError("Please input url")
        if "://" not in url:
            url = "https://" + url
        if urlsplit(url).scheme not in ("http", "https"):
            raise ToolError(f"only http and https URLs can be scraped: {url}")
        user_agent = str(parameters.get("user_agent") or DEFAULT_USER_AGENT)
        limit = max(1, int(parameters.get("max_length") or DEFAULT_MAX_LENGTH))
        response = http_request(
            ctx, "GET", url, what=f"cannot fetch {url}", timeout=FETCH_TIMEOUT,
            headers={"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*"},
        )  # fmt: skip
        if response.status_code >= 400:
            raise ToolError(f"cannot fetch {url}: HTTP {response.status_code}")
        content_type = response.content_type or response.headers.get("content-type", "")
        title, text = page_text(response.content, content_type, url)
        truncated = len(text) > limit
        if truncated:
            text = text[:limit]
        body = f"TITLE: {title}\nURL: {url}\nTEXT:\n\n{text}" if title else text
        return ToolResult(
            text=body,
            json=[
                {
                    "url": url,
                    "title": title,
                    "text": text,
                    "content_type": content_type,
                    "truncated": truncated,
                }
            ],
        )


class WebscraperProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="webscraper",
        label="WebScraper",
        description="Web Scrapper tool kit is used to scrape web",
        tags=("productivity",),
    )
    tools = (WebscraperTool(),)
