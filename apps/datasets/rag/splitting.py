"""Splitting documents into chunks (segments), after Dify's fixed-separator splitter.

General chunks (``split_general``):

1. The text is cut at the separator (given escaped or not: ``"\\n\\n"`` means two
   newlines). Each piece that fits ``max_tokens`` becomes one chunk as it is: pieces are not
   merged with their neighbours, as in Dify, so a separator marks a chunk boundary.
2. A piece longer than ``max_tokens`` is split recursively: at the first of
   ``"\\n\\n"``, ``"\\n"``, ``"。"``, ``". "``, ``" "`` that occurs in it (the separator
   stays at the end of the part before it), and the parts are merged back greedily into
   chunks of at most ``max_tokens`` tokens; a new chunk starts with up to
   ``chunk_overlap`` tokens of whole parts from the end of the previous one. A part still
   too long is split at the next separator; at the last level the text is cut at token
   boundaries (with ``chunk_overlap`` tokens of overlap).
3. Chunks are stripped of surrounding white space; empty ones are dropped.

Lengths are tokens of ``count_tokens`` (cl100k_base), and every returned chunk is checked
against ``max_tokens``. An empty separator means "no fixed separator": the whole text is
split recursively and merged, which is what Dify's automatic mode does.

Parent-child chunks (``split_parent_child``): in ``paragraph`` mode the parents are the
general chunks of the text (parent separator, parent max_tokens, no overlap); in
``full-doc`` mode the whole text (its first 10,000 tokens, as Dify) is the one parent. The
children of each parent are its general chunks with the child settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apps.datasets.rag.process_rule import SplitSettings, process_rule_settings, unescape
from apps.datasets.rag.tokens import count_tokens, token_windows, truncate_tokens

__all__ = [
    "FULL_DOC_MAX_TOKENS",
    "RECURSIVE_SEPARATORS",
    "ParentChunk",
    "SplitSettings",
    "process_rule_settings",
    "split_general",
    "split_parent_child",
]

RECURSIVE_SEPARATORS = ("\n\n", "\n", "。", ". ", " ", "")
FULL_DOC_MAX_TOKENS = 10_000
PARENT_MODES = ("paragraph", "full-doc")


@dataclass(frozen=True)
class ParentChunk:
    content: str
    children: list[str] = field(default_factory=list)


def split_general(
    text: str, *, separator: str = "\n\n", max_tokens: int = 500, chunk_overlap: int = 50
) -> list[str]:
    """The chunks of ``text``; each has at most ``max_tokens`` tokens."""
    _check_limits(max_tokens, chunk_overlap)
    if not text or not text.strip():
        return []
    fixed = unescape(separator)
    pieces = text.split(fixed) if fixed else [text]
    chunks: list[str] = []
    for piece in pieces:
        if count_tokens(piece) <= max_tokens:
            chunks.append(piece)
        else:
            chunks.extend(_recursive_split(piece, RECURSIVE_SEPARATORS, max_tokens, chunk_overlap))
    return _finish(chunks, max_tokens, chunk_overlap)


def split_parent_child(
    text: str,
    *,
    parent_mode: str = "paragraph",
    parent_separator: str = "\n\n",
    parent_max_tokens: int = 1024,
    child_separator: str = "\n",
    child_max_tokens: int = 256,
    child_overlap: int = 0,
) -> list[ParentChunk]:
    """Parents (what retrieval returns) with their children (what is embedded)."""
    if parent_mode not in PARENT_MODES:
        raise ValueError(f"parent_mode must be one of {', '.join(PARENT_MODES)}.")
    _check_limits(child_max_tokens, child_overlap)
    if parent_mode == "paragraph":
        parents = split_general(
            text, separator=parent_separator, max_tokens=parent_max_tokens, chunk_overlap=0
        )
    else:
        whole = text.strip()
        parents = [truncate_tokens(whole, FULL_DOC_MAX_TOKENS).strip()] if whole else []
    result: list[ParentChunk] = []
    for parent in parents:
        children = split_general(
            parent,
            separator=child_separator,
            max_tokens=child_max_tokens,
            chunk_overlap=child_overlap,
        )
        if children:
            result.append(ParentChunk(content=parent, children=children))
    return result


def _check_limits(max_tokens: int, chunk_overlap: int) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens must be a positive integer.")
    if isinstance(chunk_overlap, bool) or not isinstance(chunk_overlap, int):
        raise ValueError("chunk_overlap must be an integer.")
    if not 0 <= chunk_overlap < max_tokens:
        raise ValueError("chunk_overlap must be at least 0 and smaller than max_tokens.")


def _recursive_split(
    text: str, separators: tuple[str, ...], max_tokens: int, overlap: int
) -> list[str]:
    separator: str = ""
    rest: tuple[str, ...] = ()
    for index, candidate in enumerate(separators):
        if candidate == "" or candidate in text:
            separator, rest = candidate, separators[index + 1 :]
            break
    if separator == "":
        return token_windows(text, max_tokens, overlap)

    chunks: list[str] = []
    fitting: list[tuple[str, int]] = []
    for part in _split_keeping(text, separator):
        length = count_tokens(part)
        if length <= max_tokens:
            fitting.append((part, length))
            continue
        chunks.extend(_merge(fitting, max_tokens, overlap))
        fitting = []
        chunks.extend(_recursive_split(part, rest, max_tokens, overlap))
    chunks.extend(_merge(fitting, max_tokens, overlap))
    return chunks


def _split_keeping(text: str, separator: str) -> list[str]:
    """Split at each separator (a run of spaces counts as one); drop blank parts.

    The separator stays with the part before it, except trailing spaces, which go to the
    part after it: BPE tokens carry their leading space (" word"), so part lengths then add
    up to the length of the joined chunk.
    """
    pattern = r" +" if separator == " " else re.escape(separator)
    parts: list[str] = []
    start = 0
    for match in re.finditer(pattern, text):
        cut = match.start() + len(match.group().rstrip(" "))
        parts.append(text[start:cut])
        start = cut
    parts.append(text[start:])
    return [part for part in parts if part.strip()]


def _merge(parts: list[tuple[str, int]], max_tokens: int, overlap: int) -> list[str]:
    """Greedily join parts into chunks, carrying up to ``overlap`` tokens of parts over."""
    chunks: list[str] = []
    current: list[tuple[str, int]] = []
    total = 0
    for part, length in parts:
        if current and total + length > max_tokens:
            chunks.append("".join(p for p, _ in current))
            while current and (total > overlap or total + length > max_tokens):
                total -= current.pop(0)[1]
        current.append((part, length))
        total += length
    if current:
        chunks.append("".join(p for p, _ in current))
    return chunks


def _finish(chunks: list[str], max_tokens: int, overlap: int) -> list[str]:
    """Strip, drop empty chunks, and re-cut the rare chunk that joined to too many tokens."""
    result: list[str] = []
    for chunk in chunks:
        stripped = chunk.strip()
        if not stripped:
            continue
        if count_tokens(stripped) <= max_tokens:
            result.append(stripped)
            continue
        for piece in token_windows(stripped, max_tokens, overlap):
            if piece.strip():
                result.append(piece.strip())
    return result
