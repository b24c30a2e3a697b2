"""knowledge-retrieval: searches the workspace's datasets through the Retriever port.

Output ``result``: [{content, title, metadata: {score, position, dataset_id, dataset_name,
document_id, document_name, segment_id, _source, retriever_from, ...}}], best score first,
``position`` counted from 1, as Dify's node returns it. An empty query fails the node with
Dify's message "Query is required.".
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import NodeError
from ..ports import Retriever
from ..variables import TEMPLATE_PATTERN, VariablePool
from . import register
from .base import Node, NodeResult, RunContext

RETRIEVAL_MODES = ("single", "multiple")
RERANKING_MODES = ("reranking_model", "weighted_score")
FILTERING_MODES = ("disabled", "automatic", "manual")
DEFAULT_TOP_K = 4


@register
class KnowledgeRetrievalNode(Node):
    node_type = "knowledge-retrieval"

    def parse(self) -> None:
        self.query_selector = self.selector("query_variable_selector")
        dataset_ids = self.data.get("dataset_ids") or []
        if not isinstance(dataset_ids, list) or not all(isinstance(i, str) for i in dataset_ids):
            raise self.fail_config("dataset_ids", "must be a list of dataset ids")
        self.dataset_ids: list[str] = dataset_ids
        self.mode = self.data.get("retrieval_mode") or "multiple"
        if self.mode not in RETRIEVAL_MODES:
            raise self.fail_config("retrieval_mode", "must be single or multiple")
        self.retrieval_config: dict[str, Any] = {"retrieval_mode": self.mode}
        if self.mode == "single":
            self.retrieval_config.update(self._single_config())
        else:
            self.retrieval_config.update(self._multiple_config())
        self.filtering_mode = self.data.get("metadata_filtering_mode") or "disabled"
        if self.filtering_mode not in FILTERING_MODES:
            raise self.fail_config(
                "metadata_filtering_mode", "must be disabled, automatic or manual"
            )
        conditions = self.data.get("metadata_filtering_conditions")
        if conditions is not None and not isinstance(conditions, dict):
            raise self.fail_config("metadata_filtering_conditions", "must be an object")
        self.conditions: dict[str, Any] | None = conditions
        items = (conditions or {}).get("conditions") or []
        if not isinstance(items, list) or not all(isinstance(c, dict) for c in items):
            raise self.fail_config(
                "metadata_filtering_conditions.conditions", "must be a list of conditions"
            )

    def _single_config(self) -> dict[str, Any]:
        single = self.data.get("single_retrieval_config")
        if not isinstance(single, dict) or not isinstance(single.get("model"), dict):
            raise self.fail_config("single_retrieval_config.model", "is required in single mode")
        return {"model": single["model"]}

    def _multiple_config(self) -> dict[str, Any]:
        multiple = self.data.get("multiple_retrieval_config") or {}
        if not isinstance(multiple, dict):
            raise self.fail_config("multiple_retrieval_config", "must be an object")
        top_k = multiple.get("top_k", DEFAULT_TOP_K)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise self.fail_config("multiple_retrieval_config.top_k", "must be a positive number")
        threshold = multiple.get("score_threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float)
        ):
            raise self.fail_config("multiple_retrieval_config.score_threshold", "must be a number")
        reranking_mode = multiple.get("reranking_mode") or "reranking_model"
        if reranking_mode not in RERANKING_MODES:
            raise self.fail_config(
                "multiple_retrieval_config.reranking_mode",
                "must be reranking_model or weighted_score",
            )
        reranking_model = multiple.get("reranking_model")
        weights = multiple.get("weights")
        if reranking_mode == "weighted_score" and not isinstance(weights, dict):
            raise self.fail_config(
                "multiple_retrieval_config.weights", "is required for weighted_score"
            )
        return {
            "top_k": top_k,
            "score_threshold": float(threshold) if threshold is not None else None,
            "reranking_enable": bool(multiple.get("reranking_enable", True)),
            "reranking_mode": reranking_mode,
            "reranking_model": reranking_model if reranking_mode == "reranking_model" else None,
            "weights": weights if reranking_mode == "weighted_score" else None,
        }

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        query = pool.get_or(self.query_selector)
        if query is not None and not isinstance(query, str):
            raise NodeError("Query variable is not string type.")
        inputs = {"query": query}
        if not query:
            raise NodeError("Query is required.")
        retriever: Retriever = self.port(ctx, "retriever")
        config = {
            **self.retrieval_config,
            "metadata_filtering_mode": self.filtering_mode,
            "metadata_filtering_conditions": self._conditions(pool),
            "metadata_model_config": self.data.get("metadata_model_config"),
        }
        try:
            found = retriever.retrieve(query=query, dataset_ids=self.dataset_ids, config=config)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"knowledge retrieval failed: {exc}") from exc
        return NodeResult(
            inputs=inputs,
            process_data={"retrieval_config": config},
            outputs={"result": ranked(found)},
        )

    def _conditions(self, pool: VariablePool) -> dict[str, Any] | None:
        """Manual filters: ``{{#…#}}`` values resolved (a lone variable keeps its type)."""
        if self.filtering_mode == "disabled" or self.conditions is None:
            return None
        conditions = []
        for condition in self.conditions.get("conditions") or []:
            value = condition.get("value")
            operator = condition.get("comparison_operator")
            if isinstance(value, str) and operator not in ("empty", "not empty"):
                value = resolve_value(pool, value)
            conditions.append({**condition, "value": value})
        return {
            "logical_operator": self.conditions.get("logical_operator") or "and",
            "conditions": conditions,
        }


def resolve_value(pool: VariablePool, value: str) -> Any:
    whole = TEMPLATE_PATTERN.fullmatch(value.strip())
    if whole:
        found = pool.get_or(whole.group(1).split("."))
        if isinstance(found, int | float) and not isinstance(found, bool):
            return found
    return re.sub(r"[\r\n\t]+", " ", pool.render(value)).strip()


def ranked(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the retriever's items, best score first, with positions from 1."""
    result = []
    for item in items or []:
        metadata = dict(item.get("metadata") or {})
        metadata.setdefault("_source", "knowledge")
        metadata.setdefault("retriever_from", "workflow")
        result.append(
            {
                **item,
                "content": item.get("content", ""),
                "title": item.get("title") or metadata.get("document_name") or "",
                "metadata": metadata,
            }
        )
    result.sort(key=lambda i: i["metadata"].get("score") or 0.0, reverse=True)
    for position, item in enumerate(result, start=1):
        item["metadata"]["position"] = position
    return result
