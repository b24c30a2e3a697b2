"""Retrieval over one or several datasets of a workspace: semantic, full-text (also Dify's
``keyword_search``), hybrid (weighted fusion), score threshold, top-k, rerank, metadata
filters. The query is embedded once per distinct embedding model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import AppError, InvalidParam
from apps.datasets import recording, stores
from apps.datasets.fulltext import fulltext_search
from apps.datasets.metadata_filter import check_conditions, matching_document_ids
from apps.datasets.models import ChildChunk, Dataset, Document, Segment
from apps.datasets.rag.fusion import weighted_fusion
from apps.datasets.rag.rerank import Reranker
from apps.providers.runtime.base import ModelType
from apps.providers.services import WorkspaceModelRuntime, default_model_get, provider_get
from apps.tenants.models import Workspace

METHODS = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")
DEFAULT_TOP_K = 4
DEFAULT_WEIGHTS = (0.7, 0.3)


@dataclass
class RetrievedChunk:
    segment: Segment
    score: float
    child_chunks: list[tuple[ChildChunk, float]] = field(default_factory=list)


def _settings(dataset: Dataset, override: dict | None) -> dict[str, Any]:
    config = {**(dataset.retrieval_model or {}), **(override or {})}
    method = config.get("search_method") or "semantic_search"
    if method not in METHODS:
        raise InvalidParam(f"search_method must be one of {', '.join(METHODS)}")
    top_k = config.get("top_k") or DEFAULT_TOP_K
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 0 < top_k <= 100:
        raise InvalidParam("top_k must be an integer between 1 and 100")
    config["search_method"], config["top_k"] = method, top_k
    return config


def _weights(config: dict[str, Any]) -> tuple[float, float]:
    weights = config.get("weights") or {}
    try:
        vector = weights["vector_setting"]["vector_weight"]
        keyword = weights["keyword_setting"]["keyword_weight"]
        return float(vector), float(keyword)
    except (KeyError, TypeError, ValueError):
        return DEFAULT_WEIGHTS


class _ProviderReranker:
    def __init__(self, workspace: Workspace, provider: str, model: str):
        self.runtime = provider_get(provider)
        self.workspace, self.model = workspace, model

    def rerank(self, query: str, documents: list[str], top_n: int) -> list[tuple[int, float]]:
        from apps.providers.services import provider_credentials_get, provider_errors

        credentials = provider_credentials_get(
            workspace=self.workspace, provider_name=self.runtime.name
        )
        with provider_errors():
            result = self.runtime.rerank(credentials, self.model, query, documents, top_n=top_n)
        return list(result.ranked)


def reranker_for(workspace: Workspace, reranking_model: dict | None) -> Reranker | None:
    """The workspace's rerank model (the one asked for, else its default), if a provider
    that can rerank is configured; None otherwise."""
    model = reranking_model or {}
    provider = model.get("reranking_provider_name") or model.get("provider")
    name = model.get("reranking_model_name") or model.get("model")
    if not (provider and name):
        default = default_model_get(workspace=workspace, model_type="rerank")
        if default is None:
            return None
        provider, name = default.provider, default.model
    try:
        reranker = _ProviderReranker(workspace, provider, name)
    except AppError:
        return None
    return reranker if reranker.runtime.supports(ModelType.RERANK) else None


def _allowed_documents(datasets: list[Dataset], metadata_filter: dict | None) -> list[str] | None:
    if not metadata_filter:
        return None
    check_conditions(metadata_filter)
    documents = Document.objects.filter(dataset__in=datasets).select_related("created_by")
    return matching_document_ids(documents, metadata_filter)


def _search(
    workspace: Workspace, datasets: list[Dataset], query: str, config: dict[str, Any],
    document_ids: list[str] | None,
) -> list[stores.Hit]:  # fmt: skip
    method, top_k = config["search_method"], config["top_k"]
    semantic: list[stores.Hit] = []
    keyword: list[stores.Hit] = []
    wants_vectors = method in ("semantic_search", "hybrid_search")
    vector_sets = [d for d in datasets if d.indexing_technique == "high_quality"]
    vector_sets = [d for d in vector_sets if d.embedding_dimensions] if wants_vectors else []
    text_sets = [d for d in datasets if d not in vector_sets or method != "semantic_search"]
    if vector_sets:
        runtime = WorkspaceModelRuntime(workspace)
        vectors: dict[tuple[str, str], list[float]] = {}
        for dataset in vector_sets:
            key = (dataset.embedding_model_provider, dataset.embedding_model)
            if key not in vectors:
                result = runtime.embed([query], provider=key[0] or None, model=key[1] or None)
                vectors[key] = result.vectors[0]
            semantic += stores.semantic_search(
                dataset_id=dataset.pk, dimensions=dataset.embedding_dimensions or 0,
                vector=vectors[key], top_k=top_k, hierarchical=_hierarchical(dataset),
                document_ids=document_ids,
            )  # fmt: skip
    for hierarchical in (False, True):
        group = [d.pk for d in text_sets if _hierarchical(d) == hierarchical]
        if group:
            keyword += fulltext_search(
                dataset_ids=group, query=query, top_k=top_k, hierarchical=hierarchical,
                document_ids=document_ids,
            )  # fmt: skip
    if not semantic or not keyword:
        return sorted(semantic or keyword, key=lambda h: h.score, reverse=True)
    vector_weight, keyword_weight = _weights(config)
    hits = {h.segment_id: h for h in keyword} | {h.segment_id: h for h in semantic}
    fused = weighted_fusion(
        [(h.segment_id, h.score) for h in semantic], [(h.segment_id, h.score) for h in keyword],
        vector_weight=vector_weight, keyword_weight=keyword_weight,
    )  # fmt: skip
    return [stores.Hit(key, score, hits[key].children) for key, score in fused]


def _hierarchical(dataset: Dataset) -> bool:
    return dataset.doc_form == Dataset.DocForm.HIERARCHICAL


def retrieve(
    *, workspace: Workspace, dataset_ids: list[str], query: str,
    retrieval_model: dict | None = None, metadata_filter: dict | None = None,
    source: str = "api", record: bool = True,
) -> list[RetrievedChunk]:  # fmt: skip
    """The best chunks for ``query``, best first. Datasets of other workspaces are ignored."""
    if not query or not query.strip():
        raise InvalidParam("query is required")
    started = time.monotonic()
    valid = [i for i in (stores.parse_uuid(x) for x in dataset_ids) if i]
    datasets = list(Dataset.objects.for_workspace(workspace).filter(pk__in=valid))
    if not datasets:
        return []
    order = {str(i): n for n, i in enumerate(valid)}
    datasets.sort(key=lambda d: order.get(str(d.pk), 0))
    config = _settings(datasets[0], retrieval_model)
    reranker = None
    if config.get("reranking_enable") and config.get("reranking_mode") != "weighted_score":
        reranker = reranker_for(workspace, config.get("reranking_model"))
        if reranker is None:
            raise AppError(
                "No rerank model is available; set up a rerank provider or disable reranking.",
                code="provider_not_initialize", status=400,
            )  # fmt: skip
    document_ids = _allowed_documents(datasets, metadata_filter)
    hits = _search(workspace, datasets, query, config, document_ids)
    chunks = _load(hits)
    if reranker is not None and chunks:
        ranked = reranker.rerank(query, [c.segment.content for c in chunks], len(chunks))
        chunks = [RetrievedChunk(chunks[i].segment, s, chunks[i].child_chunks) for i, s in ranked]
    if config.get("score_threshold_enabled") and config.get("score_threshold") is not None:
        threshold = float(config["score_threshold"])
        chunks = [c for c in chunks if c.score >= threshold]
    chunks = sorted(chunks, key=lambda c: c.score, reverse=True)[: config["top_k"]]
    recording.record(
        recording.Retrieval(
            workspace_id=str(workspace.pk), query=query, source=source, retrieval_model=config,
            elapsed=time.monotonic() - started,
            segment_ids=[str(c.segment.pk) for c in chunks],
            dataset_ids=[str(d.pk) for d in datasets] if record else [],
            result_counts=[
                sum(c.segment.dataset_id == d.pk for c in chunks) for d in datasets if record
            ],
        )
    )  # fmt: skip
    return chunks


# What callers read of a retrieved chunk (the retrieve API's records, the workflow node's
# result items): every segment column but the vectors, and a few of its document's and
# dataset's. Loading only these halves the cost of the query (JSON and vector parsing).
_VECTORS = ("embedding", "search_vector")
_LOADED = (
    *(f.name for f in Segment._meta.concrete_fields if f.name not in _VECTORS),
    "document__name", "document__data_source_type", "document__doc_metadata", "dataset__name",
    "hits__hit_count",
)  # fmt: skip


def _load(hits: list[stores.Hit]) -> list[RetrievedChunk]:
    segments = (
        Segment.objects.select_related("document", "dataset", "hits")
        .only(*_LOADED)
        .in_bulk([h.segment_id for h in hits])
    )
    child_ids = [c for h in hits for c, _ in h.children]
    children = (
        ChildChunk.objects.defer("embedding", "search_vector").in_bulk(child_ids)
        if child_ids
        else {}
    )
    result = []
    for hit in hits:
        segment = segments.get(stores.parse_uuid(hit.segment_id))  # type: ignore[call-overload]
        if segment is None:
            continue
        matched = [(children[stores.parse_uuid(c)], s) for c, s in hit.children]  # type: ignore[index]
        result.append(RetrievedChunk(segment, hit.score, matched))
    return result
