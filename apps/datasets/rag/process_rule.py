"""Parsing and validating Dify's ``process_rule`` into split settings.

``{"mode": "automatic" | "custom" | "hierarchical", "rules": {"pre_processing_rules": [...],
"segmentation": {separator, max_tokens, chunk_overlap}, "parent_mode": "paragraph" |
"full-doc", "subchunk_segmentation": {separator, max_tokens, chunk_overlap}}}``.

``automatic`` (also when no rule is given) is Dify's ``AUTOMATIC_RULES``: extra spaces
removed, URLs/e-mails kept, 500 tokens with 50 of overlap. Dify lists the delimiter ``\\n``
there but its automatic splitter uses no fixed separator (it splits recursively and merges
up to 500 tokens), so the settings carry ``separator=""`` and the echoed rules Dify's dict.
Bounds as Dify: max_tokens 50..INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH (env, default 4000),
0 <= chunk_overlap < max_tokens. Errors are ``ProcessRuleError`` (a ``ValueError``) naming
the field.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from typing import Any

from apps.datasets.rag.cleaning import PRE_PROCESSING_RULES

MODES = ("automatic", "custom", "hierarchical")
PARENT_MODES = ("paragraph", "full-doc")
MIN_SEGMENT_TOKENS = 50
DEFAULT_MAX_SEGMENT_TOKENS = 4000
AUTOMATIC_RULES: dict[str, Any] = {
    "pre_processing_rules": [
        {"id": "remove_extra_spaces", "enabled": True},
        {"id": "remove_urls_emails", "enabled": False},
    ],
    "segmentation": {"delimiter": "\n", "max_tokens": 500, "chunk_overlap": 50},
}
# Dify's defaults for parent-child chunking (its web form), used where a value is missing.
HIERARCHICAL_DEFAULTS: dict[str, Any] = {
    "parent_mode": "paragraph",
    "segmentation": {"separator": "\n\n", "max_tokens": 1024, "chunk_overlap": 0},
    "subchunk_segmentation": {"separator": "\n", "max_tokens": 512, "chunk_overlap": 0},
}

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[ntr\\])")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


class ProcessRuleError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name} {message}")
        self.field = field_name


@dataclass(frozen=True)
class SplitSettings:
    mode: str
    pre_processing_rules: list[dict[str, Any]]
    separator: str  # unescaped; "" = no fixed separator
    max_tokens: int
    chunk_overlap: int
    parent_mode: str = "paragraph"
    child_separator: str = "\n"
    child_max_tokens: int = 512
    child_overlap: int = 0
    rules: dict[str, Any] = field(default_factory=dict)

    def general_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``split_general``."""
        return {
            "separator": self.separator,
            "max_tokens": self.max_tokens,
            "chunk_overlap": self.chunk_overlap,
        }

    def parent_child_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``split_parent_child`` (parents use ``segmentation``)."""
        if self.mode == "automatic":
            parent = HIERARCHICAL_DEFAULTS["segmentation"]
            separator, max_tokens = parent["separator"], parent["max_tokens"]
        else:
            separator, max_tokens = self.separator, self.max_tokens
        return {
            "parent_mode": self.parent_mode,
            "parent_separator": separator,
            "parent_max_tokens": max_tokens,
            "child_separator": self.child_separator,
            "child_max_tokens": self.child_max_tokens,
            "child_overlap": self.child_overlap,
        }

    def as_process_rule(self) -> dict[str, Any]:
        """The normalized rule in Dify's shape (what the API echoes back)."""
        return {"mode": self.mode, "rules": copy.deepcopy(self.rules)}


def unescape(separator: str) -> str:
    """``"\\\\n\\\\n"`` (as typed in a form) -> two newlines; other text is unchanged."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "ux":
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES[code]

    return _ESCAPE.sub(replace, separator)


def max_segmentation_tokens() -> int:
    raw = os.environ.get("INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_SEGMENT_TOKENS
    return value if value >= MIN_SEGMENT_TOKENS else DEFAULT_MAX_SEGMENT_TOKENS


def process_rule_settings(
    process_rule: dict[str, Any] | None, *, max_tokens_limit: int | None = None
) -> SplitSettings:
    """Validate a Dify ``process_rule`` and return the settings to clean and split with."""
    limit = max_tokens_limit or max_segmentation_tokens()
    if process_rule is None or process_rule == {}:
        return _automatic()
    if not isinstance(process_rule, dict):
        raise ProcessRuleError("process_rule", "must be an object.")
    mode = process_rule.get("mode")
    if not mode:
        raise ProcessRuleError("process_rule.mode", "is required.")
    if mode not in MODES:
        raise ProcessRuleError("process_rule.mode", f"must be one of {', '.join(MODES)}.")
    if mode == "automatic":
        return _automatic()

    rules = process_rule.get("rules")
    if not rules:
        raise ProcessRuleError("process_rule.rules", "is required.")
    if not isinstance(rules, dict):
        raise ProcessRuleError("process_rule.rules", "must be an object.")
    pre = _pre_processing_rules(rules.get("pre_processing_rules"))

    parent_mode = "paragraph"
    if mode == "hierarchical":
        parent_mode = rules.get("parent_mode") or "paragraph"
        if parent_mode not in PARENT_MODES:
            raise ProcessRuleError(
                "process_rule.rules.parent_mode", f"must be one of {', '.join(PARENT_MODES)}."
            )
    # In full-doc mode the parent is the whole document: its segmentation may be omitted.
    segmentation_optional = mode == "hierarchical" and parent_mode == "full-doc"
    default = HIERARCHICAL_DEFAULTS["segmentation"] if mode == "hierarchical" else None
    raw_separator, separator, max_tokens, overlap = _segmentation(
        rules.get("segmentation"), "segmentation", limit, default if segmentation_optional else None
    )
    normalized: dict[str, Any] = {
        "pre_processing_rules": pre,
        "segmentation": {
            "separator": raw_separator,
            "max_tokens": max_tokens,
            "chunk_overlap": overlap,
        },
    }
    if mode == "custom":
        return SplitSettings(mode, pre, separator, max_tokens, overlap, rules=normalized)

    child_raw, child_separator, child_max, child_overlap = _segmentation(
        rules.get("subchunk_segmentation"), "subchunk_segmentation", limit, None
    )
    normalized["parent_mode"] = parent_mode
    normalized["subchunk_segmentation"] = {
        "separator": child_raw,
        "max_tokens": child_max,
        "chunk_overlap": child_overlap,
    }
    return SplitSettings(
        mode,
        pre,
        separator,
        max_tokens,
        overlap,
        parent_mode=parent_mode,
        child_separator=child_separator,
        child_max_tokens=child_max,
        child_overlap=child_overlap,
        rules=normalized,
    )


def _automatic() -> SplitSettings:
    segmentation = AUTOMATIC_RULES["segmentation"]
    child = HIERARCHICAL_DEFAULTS["subchunk_segmentation"]
    return SplitSettings(
        mode="automatic",
        pre_processing_rules=copy.deepcopy(AUTOMATIC_RULES["pre_processing_rules"]),
        separator="",
        max_tokens=segmentation["max_tokens"],
        chunk_overlap=segmentation["chunk_overlap"],
        child_separator=child["separator"],
        child_max_tokens=child["max_tokens"],
        child_overlap=child["chunk_overlap"],
        rules=copy.deepcopy(AUTOMATIC_RULES),
    )


def _pre_processing_rules(value: Any) -> list[dict[str, Any]]:
    name = "process_rule.rules.pre_processing_rules"
    if value is None:
        return []  # Dify rejects a missing list; an absent list simply enables nothing
    if not isinstance(value, list):
        raise ProcessRuleError(name, "must be a list.")
    unique: dict[str, dict[str, Any]] = {}
    for item in value:
        if not isinstance(item, dict):
            raise ProcessRuleError(name, "items must be objects.")
        rule_id = item.get("id")
        if not rule_id:
            raise ProcessRuleError(f"{name}.id", "is required.")
        if rule_id not in PRE_PROCESSING_RULES:
            raise ProcessRuleError(
                f"{name}.id", f"must be one of {', '.join(PRE_PROCESSING_RULES)}."
            )
        if not isinstance(item.get("enabled"), bool):
            raise ProcessRuleError(f"{name}.enabled", "must be a boolean.")
        unique[rule_id] = {"id": rule_id, "enabled": item["enabled"]}
    return list(unique.values())


def _segmentation(
    value: Any, key: str, limit: int, default: dict[str, Any] | None
) -> tuple[str, str, int, int]:
    name = f"process_rule.rules.{key}"
    if value is None and default is not None:
        value = default
    if not value:
        raise ProcessRuleError(name, "is required.")
    if not isinstance(value, dict):
        raise ProcessRuleError(name, "must be an object.")
    if default is not None:
        value = {**default, **{k: v for k, v in value.items() if v is not None}}

    separator = value.get("separator")
    if not separator:
        raise ProcessRuleError(f"{name}.separator", "is required.")
    if not isinstance(separator, str):
        raise ProcessRuleError(f"{name}.separator", "must be a string.")

    max_tokens = value.get("max_tokens")
    if max_tokens is None:
        raise ProcessRuleError(f"{name}.max_tokens", "is required.")
    if not _is_int(max_tokens):
        raise ProcessRuleError(f"{name}.max_tokens", "must be an integer.")
    if not MIN_SEGMENT_TOKENS <= max_tokens <= limit:
        raise ProcessRuleError(
            f"{name}.max_tokens", f"must be between {MIN_SEGMENT_TOKENS} and {limit}."
        )

    overlap = value.get("chunk_overlap")
    if overlap is None:
        overlap = 0
    if not _is_int(overlap):
        raise ProcessRuleError(f"{name}.chunk_overlap", "must be an integer.")
    if not 0 <= overlap < max_tokens:
        raise ProcessRuleError(
            f"{name}.chunk_overlap", "must be at least 0 and smaller than max_tokens."
        )
    return separator, unescape(separator), max_tokens, overlap


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
