"""Dify's ``regex`` provider: ``regex_extract``.

Patterns run on the ``regex`` module with a time limit, so a catastrophic pattern such as
``(x+x+)+y`` fails with a clear error instead of pinning a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import regex

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

REGEX_TIMEOUT = 1.0  # seconds
MAX_PATTERN_LENGTH = 2000


def compile_pattern(expression: str, *, ignore_case: bool = False) -> Any:
    if not expression:
        raise ToolError("the regular expression is empty")
    if len(expression) > MAX_PATTERN_LENGTH:
        raise ToolError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return regex.compile(expression, regex.IGNORECASE if ignore_case else 0)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ToolError(f"invalid regular expression {expression!r}: {exc}") from exc


def findall(pattern: Any, content: str) -> list[Any]:
    try:
        found: list[Any] = pattern.findall(content, timeout=REGEX_TIMEOUT)
    except TimeoutError as exc:
        raise ToolError(f"the regular expression took longer than {REGEX_TIMEOUT:g}s") from exc
    return found


def substitute(
    pattern: Any, replacement: str | Callable[[Any], str], content: str, count: int = 0
) -> str:
    try:
        result: str = pattern.sub(replacement, content, count=count, timeout=REGEX_TIMEOUT)
    except TimeoutError as exc:
        raise ToolError(f"the regular expression took longer than {REGEX_TIMEOUT:g}s") from exc
    except (regex.error, IndexError) as exc:
        raise ToolError(f"invalid replacement {replacement!r}: {exc}") from exc
    return result


class RegexExtractTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="regex_extract",
        label="Regex Extract",
        description="A tool for extracting matching content using regular expressions.",
        llm_description=(
            "Extract every match of a regular expression (Python syntax) from the content; "
            "with capture groups, each match is the list of its groups."
        ),
        parameters=(
            ToolParameter(
                name="content", required=True, label="Content to be extracted",
                human_description="Content to be extracted",
                llm_description="The text to search.",
            ),
            ToolParameter(
                name="expression", required=True, label="Regular expression",
                human_description="Regular expression",
                llm_description="The regular expression, e.g. \\d{4}-\\d{2}-\\d{2}",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content = str(parameters.get("content") or "")
        pattern = compile_pattern(str(parameters.get("expression") or "").strip())
        matches = findall(pattern, content)
        # Dify's text is the Python list; tuples (several groups) become lists in JSON
        as_json = [list(m) if isinstance(m, tuple) else m for m in matches]
        return ToolResult(text=str(matches), json=[{"matches": as_json, "count": len(matches)}])


class RegexProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="regex",
        label="Regex",
        description="A tool for regular expression content extraction.",
        tags=("utilities", "productivity"),
    )
    tools = (RegexExtractTool(),)
