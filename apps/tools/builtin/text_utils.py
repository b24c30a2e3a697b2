"""``text_utils``: small text helpers (Dify has no single equivalent; its ``regex`` provider
lives in ``regex.py``): statistics, case conversion, replace, substring, base64, URL encoding.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

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
from apps.tools.builtin.regex import compile_pattern, substitute

_CONTENT = ToolParameter(
    name="content", required=True, label="Content", human_description="The text to process",
    llm_description="The text to process.",
)  # fmt: skip
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?。！？]+(?:\s|$)")
CASES = (
    "upper", "lower", "title", "sentence", "swapcase",
    "snake_case", "kebab_case", "camel_case", "pascal_case",
)  # fmt: skip


def _text(parameters: Mapping[str, Any], name: str = "content") -> str:
    value = parameters.get(name)
    return "" if value is None else str(value)


class TextStatsTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="text_stats",
        label="Text Statistics",
        description="Count the characters, words, lines, sentences and paragraphs of a text.",
        llm_description=(
            "Count characters (with and without whitespace), words, lines, sentences and "
            "paragraphs of a text."
        ),
        parameters=(_CONTENT,),
    )

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content = _text(parameters)
        sentences = _SENTENCE_END.findall(content.strip() + " ") if content.strip() else []
        stats = {
            "characters": len(content),
            "characters_no_spaces": sum(1 for c in content if not c.isspace()),
            "words": len(_WORD.findall(content)),
            "lines": len(content.splitlines()),
            "sentences": len(sentences),
            "paragraphs": len([p for p in re.split(r"\n\s*\n", content) if p.strip()]),
        }
        text = ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in stats.items())
        return ToolResult(text=text, json=[stats])


def _words(content: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", content)  # split camelCase
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # split HTTPServer
    return [w for w in re.split(r"[^0-9A-Za-z\u00C0-\uFFFF]+", spaced) if w]


def convert_case(content: str, case: str) -> str:
    if case == "upper":
        return content.upper()
    if case == "lower":
        return content.lower()
    if case == "title":
        return content.title()
    if case == "swapcase":
        return content.swapcase()
    if case == "sentence":
        stripped = content.lstrip()
        lead = content[: len(content) - len(stripped)]
        return lead + stripped[:1].upper() + stripped[1:].lower()
    words = _words(content)
    if case == "snake_case":
        return "_".join(w.lower() for w in words)
    if case == "kebab_case":
        return "-".join(w.lower() for w in words)
    if case == "camel_case":
        return "".join(w.lower() if i == 0 else w.capitalize() for i, w in enumerate(words))
    if case == "pascal_case":
        return "".join(w.capitalize() for w in words)
    raise ToolError(f"unknown case {case!r}: use one of {', '.join(CASES)}")


class CaseConvertTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="case_convert",
        label="Case Convert",
        description="Change the letter case of a text.",
        llm_description=(
            "Convert text to upper, lower, title, sentence or swapped case, or to "
            "snake_case, kebab-case, camelCase or PascalCase."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(
                name="case", type="select", required=True, default="lower", label="Case",
                options=CASES, llm_description="The case to convert to.",
            ),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        result = convert_case(_text(parameters), str(parameters.get("case") or "lower"))
        return ToolResult(text=result, json=[{"result": result}])


class TextReplaceTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="text_replace",
        label="Text Replace",
        description="Replace every occurrence of a string (or a regular expression) in a text.",
        llm_description=(
            "Replace occurrences of `find` in the content with `replacement`; with use_regex, "
            "`find` is a regular expression and `replacement` may use \\1 group references."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(name="find", required=True, label="Find",
                          llm_description="The text (or regular expression) to find."),
            ToolParameter(name="replacement", label="Replacement", default="",
                          llm_description="The replacement text (empty to delete)."),
            ToolParameter(name="use_regex", type="boolean", default=False, label="Use regex",
                          llm_description="Treat `find` as a regular expression."),
            ToolParameter(name="ignore_case", type="boolean", default=False,
                          label="Ignore case", llm_description="Match regardless of case."),
            ToolParameter(name="count", type="number", default=0, form="form",
                          label="Max replacements", human_description="0 replaces all"),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content, find = _text(parameters), _text(parameters, "find")
        replacement = _text(parameters, "replacement")
        count = max(0, int(parameters.get("count") or 0))
        if not find:
            raise ToolError("`find` is empty")
        ignore_case = bool(parameters.get("ignore_case"))
        if parameters.get("use_regex"):
            pattern = compile_pattern(find, ignore_case=ignore_case)
            result = substitute(pattern, replacement, content, count)
        elif ignore_case:
            pattern = compile_pattern(re.escape(find), ignore_case=True)
            result = substitute(pattern, lambda _match: replacement, content, count)
        else:
            result = content.replace(find, replacement, count or -1)
        return ToolResult(text=result, json=[{"result": result}])


class SubstringTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="substring",
        label="Substring",
        description="Cut a part of a text by character positions.",
        llm_description=(
            "Return the characters of the content from `start` (inclusive, 0-based) to `end` "
            "(exclusive); negative positions count from the end, a missing end means the end."
        ),
        parameters=(
            _CONTENT,
            ToolParameter(name="start", type="number", default=0, label="Start",
                          llm_description="First character position (0-based)."),
            ToolParameter(name="end", type="number", label="End",
                          llm_description="Position after the last character (optional)."),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content = _text(parameters)
        try:
            start = int(parameters.get("start") or 0)
            end = parameters.get("end")
            result = content[start : None if end is None else int(end)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise ToolError(f"start and end must be whole numbers: {exc}") from exc
        return ToolResult(text=result, json=[{"result": result, "length": len(result)}])


class Base64Tool(BuiltinTool):
    declaration = ToolDeclaration(
        name="base64_codec",
        label="Base64 Encode/Decode",
        description="Encode a text to base64, or decode base64 back to text (UTF-8).",
        llm_description="Base64-encode a UTF-8 text, or decode base64 to UTF-8 text.",
        parameters=(
            _CONTENT,
            ToolParameter(name="operation", type="select", required=True, default="encode",
                          options=("encode", "decode"), label="Operation",
                          llm_description="encode or decode"),
            ToolParameter(name="url_safe", type="boolean", default=False, form="form",
                          label="URL-safe alphabet",
                          human_description="Use - and _ instead of + and /"),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content = _text(parameters)
        url_safe = bool(parameters.get("url_safe"))
        if parameters.get("operation", "encode") == "encode":
            raw = content.encode()
            result = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(raw).decode()
        else:
            compact = "".join(content.split())
            compact += "=" * (-len(compact) % 4)
            try:
                if url_safe or "-" in compact or "_" in compact:
                    data = base64.urlsafe_b64decode(compact)
                else:
                    data = base64.b64decode(compact, validate=True)
                result = data.decode("utf-8")
            except (binascii.Error, ValueError) as exc:
                raise ToolError(f"not valid base64 of UTF-8 text: {exc}") from exc
        return ToolResult(text=result, json=[{"result": result}])


class UrlCodecTool(BuiltinTool):
    declaration = ToolDeclaration(
        name="url_codec",
        label="URL Encode/Decode",
        description="Percent-encode a text for use in a URL, or decode it.",
        llm_description="Percent-encode text for a URL component, or decode %XX sequences.",
        parameters=(
            _CONTENT,
            ToolParameter(name="operation", type="select", required=True, default="encode",
                          options=("encode", "decode"), label="Operation",
                          llm_description="encode or decode"),
        ),
    )  # fmt: skip

    def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        content = _text(parameters)
        if parameters.get("operation", "encode") == "encode":
            result = quote(content, safe="")
        else:
            result = unquote(content.replace("+", " "))
        return ToolResult(text=result, json=[{"result": result}])


class TextUtilsProvider(BuiltinProvider):
    declaration = ProviderDeclaration(
        name="text_utils",
        label="Text Utilities",
        description="Count, convert case, replace, cut and encode text.",
        tags=("utilities", "productivity"),
    )
    tools = (
        TextStatsTool(),
        CaseConvertTool(),
        TextReplaceTool(),
        SubstringTool(),
        Base64Tool(),
        UrlCodecTool(),
    )
