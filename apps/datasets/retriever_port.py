"""The workflow engine's ``Retriever`` port over this workspace's knowledge bases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.datasets import stores
from apps.datasets.models import Dataset
from apps.datasets.retrieval import retrieve
from apps.tenants.models import Workspace


def node_retrieval_model(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The knowledge-retrieval node's config as a Dify ``retrieval_model`` (None in single
    mode: each dataset's own settings apply)."""
    if config.get("retrieval_mode") == "single":
        return None
    model: dict[str, Any] = {"top_k": config.get("top_k") or 4}
    threshold = config.get("score_threshold")
    model["score_threshold_enabled"] = threshold is not None
    model["score_threshold"] = threshold
    mode = config.get("reranking_mode") or "reranking_model"
    weights = config.get("weights")
    if mode == "weighted_score" and isinstance(weights, Mapping):
        model.update(search_method="hybrid_search", weights=dict(weights))
        model.update(reranking_enable=False, reranking_mode="weighted_score")
    else:
        reranking = config.get("reranking_model") or {}
        wanted = bool(config.get("reranking_enable")) and bool(
            reranking.get("provider") or reranking.get("reranking_provider_name")
        )
        model.update(search_method="hybrid_search" if wanted else "semantic_search")
        model.update(reranking_enable=wanted, reranking_mode="reranking_model")
        model["reranking_model"] = {
            "reranking_provider_name": reranking.get("provider")
            or reranking.get("reranking_provider_name"),
            "reranking_model_name": reranking.get("model") or reranking.get("reranking_model_name"),
        }
    return model


class DatasetRetrieverPort:
    """``Retriever`` for one workspace: Dify's knowledge-retrieval ``result`` items."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace

    def describe(self, dataset_ids: Sequence[str]) -> list[dict[str, str]]:
        """``id``, ``name`` and ``description`` of the given datasets of this workspace, in
        the order given (ids of other workspaces, or not ids at all, are left out)."""
        valid = [i for i in (stores.parse_uuid(x) for x in dataset_ids) if i]
        found = {
            str(pk): (name, description)
            for pk, name, description in Dataset.objects.for_workspace(self.workspace)
            .filter(pk__in=valid)
            .values_list("pk", "name", "description")
        }
        return [
            {"id": key, "name": found[key][0], "description": found[key][1]}
            for key in dict.fromkeys(str(i) for i in valid)
            if key in found
        ]

    def retrieve(
        self, *, query: str, dataset_ids: Sequence[str], config: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        conditions = None
        if config.get("metadata_filtering_mode") == "manual":
            conditions = config.get("metadata_filtering_conditions") or None
        chunks = retrieve(
            workspace=self.workspace, dataset_ids=list(dataset_ids), query=query,
            retrieval_model=node_retrieval_model(config), metadata_filter=conditions,
            source="app", record=True,
        )  # fmt: skip
        items = []
        for position, chunk in enumerate(chunks, start=1):
            segment, document = chunk.segment, chunk.segment.document
            content = segment.content
            if segment.answer:
                content = f"question:{segment.content} answer:{segment.answer}"
            items.append(
                {
                    "content": content,
                    "title": document.name,
                    "metadata": {
                        "_source": "knowledge",
                        "position": position,
                        "score": chunk.score,
                        "dataset_id": str(segment.dataset_id),
                        "dataset_name": segment.dataset.name,
                        "document_id": str(document.pk),
                        "document_name": document.name,
                        "data_source_type": document.data_source_type,
                        "segment_id": str(segment.pk),
                        "segment_position": segment.position,
                        "segment_word_count": segment.word_count,
                        "segment_hit_count": segment.hit_count + 1,
                        "segment_index_node_hash": segment.index_node_hash,
                        "doc_metadata": document.doc_metadata or {},
                        "child_chunks": [
                            {
                                "id": str(c.pk),
                                "content": c.content,
                                "position": c.position,
                                "score": score,
                            }
                            for c, score in chunk.child_chunks
                        ],
                    },
                }
            )
        return items
