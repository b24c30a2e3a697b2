"""Text cleaning before splitting: Dify's pre-processing rules.

Always (Dify's "default clean"): ``<|`` / ``|>`` become ``<`` / ``>`` (so special-token
markers cannot reach a model), and control characters other than tab, newline and carriage
return are removed, as is U+FFFE. Then each enabled rule, in the order given:

- ``remove_extra_spaces``: three or more newlines become one blank line; a run of two or
  more horizontal white-space characters becomes one space.
- ``remove_urls_emails``: e-mail addresses and bare http(s) URLs are removed; Markdown links
  ``[text](url)`` and images ``![alt](url)`` are kept whole, as Dify does.

``remove_stopwords`` is accepted (Dify lists it) and, as in Dify, does nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

PRE_PROCESSING_RULES = ("remove_stopwords", "remove_extra_spaces", "remove_urls_emails")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe]")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_MANY_SPACES = re.compile("[\t\f\r \u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]{2,}")
_EMAIL = re.compile(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+")
_MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*https?://[^\s)]+(?:\s+\"[^\"\n]*\")?\s*\)")
_URL = re.compile(r"https?://[^\s\x00]+")
_PLACEHOLDER = "\x00md{}\x00"  # NUL cannot survive the default clean, so cannot collide


def clean_text(text: str, rules: Iterable[Mapping[str, Any]] | None = None) -> str:
    """Apply the default clean, then each enabled pre-processing rule in order."""
    text = text.replace("<|", "<").replace("|>", ">")
    text = _CONTROL.sub("", text)
    for rule in rules or ():
        if rule.get("enabled") is not True:
            continue
        if rule.get("id") == "remove_extra_spaces":
            text = remove_extra_spaces(text)
        elif rule.get("id") == "remove_urls_emails":
            text = remove_urls_emails(text)
    return text


def remove_extra_spaces(text: str) -> str:
    text = _MANY_NEWLINES.sub("\n\n", text)
    return _MANY_SPACES.sub(" ", text)


def remove_urls_emails(text: str) -> str:
    kept: list[str] = []

    def protect(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return _PLACEHOLDER.format(len(kept) - 1)

    text = _MARKDOWN_LINK.sub(protect, text)
    text = _EMAIL.sub("", text)
    text = _URL.sub("", text)
    for index, original in enumerate(kept):
        text = text.replace(_PLACEHOLDER.format(index), original)
    return text
