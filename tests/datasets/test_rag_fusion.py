"""Hybrid-search score fusion and the reranker port (pure; no database)."""

from __future__ import annotations

import pytest

from apps.datasets.rag import Reranker, rrf_fusion, weighted_fusion


def test_weighted_fusion_normalizes_keyword_scores_by_the_max() -> None:
    semantic = [("a", 0.9), ("b", 0.5)]
    keyword = [("b", 0.2), ("c", 0.1)]  # ts_rank values: b -> 1.0, c -> 0.5
    fused = dict(weighted_fusion(semantic, keyword, vector_weight=0.7, keyword_weight=0.3))
    assert fused == pytest.approx({"a": 0.63, "b": 0.35 + 0.3, "c": 0.15})


def test_weighted_fusion_orders_best_first() -> None:
    semantic = [("a", 0.9), ("b", 0.5), ("d", 0.1)]
    keyword = [("b", 0.2), ("c", 0.1)]
    fused = weighted_fusion(semantic, keyword, vector_weight=0.7, keyword_weight=0.3)
    assert [key for key, _ in fused] == ["b", "a", "c", "d"]
    assert [s for _, s in fused] == sorted((s for _, s in fused), reverse=True)


def test_weights_decide_the_order() -> None:
    semantic = [("v", 0.8), ("k", 0.2)]
    keyword = [("k", 0.5), ("v", 0.05)]
    by_vector = weighted_fusion(semantic, keyword, vector_weight=1.0, keyword_weight=0.0)
    by_keyword = weighted_fusion(semantic, keyword, vector_weight=0.0, keyword_weight=1.0)
    assert [k for k, _ in by_vector] == ["v", "k"]
    assert [k for k, _ in by_keyword] == ["k", "v"]
    assert dict(by_keyword) == pytest.approx({"k": 1.0, "v": 0.1})


def test_one_side_empty() -> None:
    assert weighted_fusion([], [], vector_weight=0.5, keyword_weight=0.5) == []
    only_keyword = weighted_fusion(
        [], [("x", 0.4), ("y", 0.1)], vector_weight=0.5, keyword_weight=0.5
    )
    assert only_keyword == [("x", 0.5), ("y", 0.125)]
    only_vector = weighted_fusion([("x", 0.8)], [], vector_weight=0.6, keyword_weight=0.4)
    assert only_vector == [("x", pytest.approx(0.48))]


def test_out_of_range_and_duplicate_scores() -> None:
    semantic = [("a", 1.2), ("b", -0.3), ("a", 0.1)]
    keyword = [("c", 0.0), ("d", 0.0)]  # all-zero ranks stay 0 (no division by zero)
    fused = dict(weighted_fusion(semantic, keyword, vector_weight=1.0, keyword_weight=1.0))
    assert fused == {"a": 1.0, "b": 0.0, "c": 0.0, "d": 0.0}


def test_ties_keep_first_seen_order() -> None:
    fused = weighted_fusion([("x", 0.5), ("y", 0.5)], [], vector_weight=1, keyword_weight=0)
    assert [k for k, _ in fused] == ["x", "y"]


def test_negative_weights_are_rejected() -> None:
    with pytest.raises(ValueError):
        weighted_fusion([("a", 1.0)], [], vector_weight=-0.1, keyword_weight=1.0)


def test_rrf_fusion() -> None:
    fused = rrf_fusion([("a", 0.9), ("b", 0.8)], [("b", 3.0), ("c", 1.0)], k=60)
    assert [k for k, _ in fused] == ["b", "a", "c"]
    assert dict(fused)["b"] == pytest.approx(1 / 62 + 1 / 61)
    with pytest.raises(ValueError):
        rrf_fusion([], k=0)


def test_reranker_protocol() -> None:
    class ByLength:
        def rerank(self, query: str, documents: list[str], top_n: int) -> list[tuple[int, float]]:
            order = sorted(range(len(documents)), key=lambda i: -len(documents[i]))
            return [(i, float(len(documents[i]))) for i in order[:top_n]]

    reranker: Reranker = ByLength()
    assert isinstance(reranker, Reranker)
    assert reranker.rerank("q", ["a", "ccc", "bb"], 2) == [(1, 3.0), (2, 2.0)]
