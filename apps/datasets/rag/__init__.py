"""The pure part of knowledge-base indexing and retrieval: token counting, cleaning,
splitting into chunks, Dify process rules, score fusion and the reranker port.

Free of Django (an import-linter contract enforces it): the Django side (services,
indexing tasks, stores, retrieval) calls in with plain strings, dicts and scores.
"""

from apps.datasets.rag.cleaning import clean_text
from apps.datasets.rag.fusion import rrf_fusion, weighted_fusion
from apps.datasets.rag.process_rule import ProcessRuleError, SplitSettings, process_rule_settings
from apps.datasets.rag.rerank import Reranker
from apps.datasets.rag.splitting import ParentChunk, split_general, split_parent_child
from apps.datasets.rag.tokens import count_tokens

__all__ = [
    "ParentChunk",
    "ProcessRuleError",
    "Reranker",
    "SplitSettings",
    "clean_text",
    "count_tokens",
    "process_rule_settings",
    "rrf_fusion",
    "split_general",
    "split_parent_child",
    "weighted_fusion",
]
