"""Combining semantic and full-text search results (hybrid search).

``weighted_fusion`` is Dify's "weighted score" reranking mode on the scores we already
have: vector scores are cosine similarities (clamped to 0..1), full-text scores are
PostgreSQL ``ts_rank`` values divided by the largest one in the list (so the best match is
1.0). The fused score is ``vector_weight * v + keyword_weight * k``; a chunk found by only
one search gets 0 for the other. Dify's ``WeightRerankRunner`` instead recomputes a keyword
score for every candidate (TF-IDF cosine of jieba keywords of query and chunk) and reuses or
recomputes the vector cosine; the weighting is the same.

``rrf_fusion`` is reciprocal rank fusion (not in Dify), for callers that want rank-based
fusion: ``sum(1 / (k + rank))`` over the lists.
"""

from __future__ import annotations

from collections.abc import Sequence

Scored = tuple[str, float]


def weighted_fusion(
    semantic: Sequence[Scored],
    keyword: Sequence[Scored],
    *,
    vector_weight: float,
    keyword_weight: float,
) -> list[Scored]:
    """Fused ``(id, score)`` pairs, best first; ties keep first-seen order."""
    if vector_weight < 0 or keyword_weight < 0:
        raise ValueError("vector_weight and keyword_weight must not be negative.")
    vector_scores = {key: min(max(score, 0.0), 1.0) for key, score in _best(semantic).items()}
    keyword_scores = normalize_by_max(_best(keyword))
    order = list(dict.fromkeys([*vector_scores, *keyword_scores]))
    fused = [
        (
            key,
            vector_weight * vector_scores.get(key, 0.0)
            + keyword_weight * keyword_scores.get(key, 0.0),
        )
        for key in order
    ]
    return sorted(fused, key=lambda item: -item[1])


def normalize_by_max(scores: dict[str, float]) -> dict[str, float]:
    """Scores divided by the largest (negative ones become 0); all 0 if none is positive."""
    top = max(scores.values(), default=0.0)
    if top <= 0:
        return dict.fromkeys(scores, 0.0)
    return {key: max(score, 0.0) / top for key, score in scores.items()}


def rrf_fusion(*rankings: Sequence[Scored], k: int = 60) -> list[Scored]:
    """Reciprocal rank fusion of lists already sorted best first."""
    if k < 1:
        raise ValueError("k must be at least 1.")
    fused: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, (key, _score) in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: -item[1])


def _best(scored: Sequence[Scored]) -> dict[str, float]:
    """One score per id (the highest), in first-seen order."""
    best: dict[str, float] = {}
    for key, score in scored:
        value = float(score)
        if key not in best or value > best[key]:
            best[key] = value
    return best
