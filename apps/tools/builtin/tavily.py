"""Dify's ``tavily`` provider: web search and page extraction with the user's Tavily key.

Requests go through the guarded HTTP client to ``{base_url}/search`` and
``{base_url}/extract`` (``base_url`` defaults to Tavily's API; a workspace may point it at
a compatible proxy). The key is sent both as a bearer token and as ``api_key`` in the
body, which every Tavily API version accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from apps.tools.base import (
    BuiltinProvider,
    BuiltinTool,
    CredentialField,
    ProviderDeclaration,
    ToolContext,
    ToolDeclaration,
    ToolError,
    ToolParameter,
    ToolResult,
)
from apps.tools.builtin._util import http_request

DEFAULT_BASE_URL = "https://api.tavily.com"
TIMEOUT = 60.0
MAX_RESULTS = 20


def _base_url(credentials: Mapping[str, Any]) -> str:
    return str(credentials.get("base_url") or DEFAULT_BASE_URL).strip().rstrip("/")


def tavily_post(ctx: ToolContext, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """POST to the Tavily API; HTTP and API errors become readable ToolErrors."""
    api_key = str(ctx.credentials.get("tavily_api_key") or "").strip()
    if not api_key:
        raise ToolError("Tavily API key is missing: set tavily_api_key in the credentials")
    url = f"{_base_url(ctx.credentials)}{path}"
    response = http_request(
        ctx, "POST", url, what="cannot reach Tavily", timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        json_body={**payload, "api_key": api_key},
    )  # fmt: skip
    status = response.status_code
    if status in (401, 403):
        raise ToolError("invalid API key: Tavily refused the tavily_api_key")
    if status == 429:
        raise ToolError("Tavily rate limit or plan quota reached; try again later")
    if status == 432 or status == 433:
        raise ToolError("Tavily plan or usage limit exceeded")
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    if status >= 400:
        detail = _error_detail(body) or response.text[:200]
        raise ToolError(f"Tavily answered HTTP {status}: {detail}")
    if not isinstance(body, dict):
        raise ToolError("Tavily answered with something that is not a JSON object")
    return body


def _error_detail(body: Any) -> str:
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("error") or body.get("message")
        if isinstance(detail, dict):
            detail = detail.get("error") or detail.get("message")
        return str(detail or "")
    return ""


def _domains(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [d for d in re.split(r"[\s,]+", str(value or "")) if d]


class TavilySearchTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="tavily_search",
        label="TavilySearch",
        description=(
            "A search engine built specifically for AI agents (LLMs), delivering real-time, "
            "accurate, and factual results at speed."
        ),
        llm_description=(
            "Search the web with Tavily. Returns the most relevant pages (title, URL, content "
            "snippet) and, when enabled, a short answer."
        ),
        parameters=(
            ToolParameter(name="query", required=True, label="Query string",
                          human_description="used for searching",
                          llm_description="key words for searching"),
            ToolParameter(name="search_depth", type="select", form="form", default="basic",
                          options=("basic", "advanced"), label="Search Depth",
                          human_description="The depth of search results"),
            ToolParameter(name="topic", type="select", form="form", default="general",
                          options=("general", "news"), label="Topic",
                          human_description="The category of the search"),
            ToolParameter(name="include_images", type="boolean", form="form", default=False,
                          label="Include Images",
                          human_description="Include images in the search results"),
            ToolParameter(name="include_answer", type="boolean", form="form", default=False,
                          label="Include Answer",
                          human_description="Include answers in the search results"),
            ToolParameter(name="include_raw_content", type="boolean", form="form",
                          default=False, label="Include Raw Content",
                          human_description="Include raw content in the search results"),
            ToolParameter(name="max_results", type="number", form="form", default=5,
                          label="Max Results",
                          human_description="The number of maximum search results to return"),
            ToolParameter(name="include_domains", form="form", label="Include Domains",
                          human_description="Domains to specifically include (comma-separated)"),
            ToolParameter(name="exclude_domains", form="form", label="Exclude Domains",
                          human_description="Domains to specifically exclude (comma-separated)"),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        query = str(parameters.get("query") or "").strip()
        if not query:
            raise ToolError("Please input query")
        payload: dict[str, Any] = {
            "query": query,
            "search_depth": parameters.get("search_depth") or "basic",
            "topic": parameters.get("topic") or "general",
            "max_results": min(MAX_RESULTS, max(1, int(parameters.get("max_results") or 5))),
            "include_images": bool(parameters.get("include_images")),
            "include_answer": bool(parameters.get("include_answer")),
            "include_raw_content": bool(parameters.get("include_raw_content")),
        }
        for name in ("include_domains", "exclude_domains"):
            domains = _domains(parameters.get(name))
            if domains:
                payload[name] = domains
        body = tavily_post(ctx, "/search", payload)
        return ToolResult(text=format_search(query, body), json=[body])


def format_search(query: str, body: Mapping[str, Any]) -> str:
    results = body.get("results") or []
    lines: list[str] = []
    if body.get("answer"):
        lines += [f"Answer: {body['answer']}", ""]
    for result in results:
        if not isinstance(result, Mapping):
            continue
        lines.append(f"## {result.get('title') or result.get('url', '')}")
        lines.append(str(result.get("url", "")))
        lines.append(str(result.get("content", "")).strip())
        if result.get("raw_content"):
            lines.append(str(result["raw_content"]).strip())
        lines.append("")
    if not lines:
        return f"No results found for '{query}' in Tavily"
    return "\n".join(lines).strip()


class TavilyExtractTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="tavily_extract",
        label="Tavily Extract",
        description=(
            "A web extraction tool built specifically for AI agents (LLMs), delivering raw "
            "content from web pages."
        ),
        llm_description="Extract the raw content of web pages, given their URLs, with Tavily.",
        parameters=(
            ToolParameter(name="urls", required=True, label="URLs",
                          human_description="A comma-separated list of URLs",
                          llm_description="Comma-separated URLs to extract content from."),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        urls = _domains(parameters.get("urls"))
        if not urls:
            raise ToolError("Please input at least one URL to extract.")
        body = tavily_post(ctx, "/extract", {"urls": urls})
        lines: list[str] = []
        for index, result in enumerate(body.get("results") or [], 1):
            if isinstance(result, Mapping):
                lines.append(f"## Extracted Content {index}: {result.get('url', '')}\n")
                lines.append(f"{result.get('raw_content', '')}\n")
        for failed in body.get("failed_results") or []:
            if isinstance(failed, Mapping):
                lines.append(f"- failed: {failed.get('url', '')}: {failed.get('error', '')}")
        text = "\n".join(lines).strip() or "No content could be extracted from the given URLs."
        return ToolResult(text=text, json=[body])


class TavilyProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="tavily",
        label="Tavily",
        description="Tavily search and extraction, with your Tavily API key.",
        tags=("search",),
        credentials=(
            CredentialField(
                name="tavily_api_key", type="secret-input", required=True,
                label="Tavily API key", placeholder="Please input your Tavily API key",
                help="Get your Tavily API key from Tavily",
            ),
            CredentialField(
                name="base_url", type="text-input", required=False, label="API base URL",
                placeholder=DEFAULT_BASE_URL, default=DEFAULT_BASE_URL,
                help="Leave empty for Tavily's API",
            ),
        ),
    )  # fmt: skip
    tools = (TavilySearchTool(), TavilyExtractTool())

    def validate_credentials(self, credentials: Mapping[str, Any], ctx: ToolContext) -> None:
        """A real one-result search: a wrong key fails with ``invalid API key``."""
        super().validate_credentials(credentials, ctx)
        probe = ToolContext(
            credentials=credentials, user_id=ctx.user_id, http=ctx.http,
            workspace_id=ctx.workspace_id,
        )  # fmt: skip
        tavily_post(probe, "/search", {"query": "test", "max_results": 1})
