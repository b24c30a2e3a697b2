"""The port a reranking model is called through (implemented on the Django side)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Reranker(Protocol):
    def rerank(self, query: str, documents: list[str], top_n: int) -> list[tuple[int, float]]:
        """``(index into documents, relevance score)`` pairs, best first, at most top_n."""
        ...
