"""Dataset context of the chat and completion modes, as Dify's ``model_config`` sets it up
(agent-chat apps search their datasets as tools instead: chat/dataset_tools.py).

``dataset_configs``: ``retrieval_model`` (``single`` | ``multiple``), ``top_k``,
``score_threshold`` (with ``score_threshold_enabled``), ``reranking_enable``,
``reranking_mode``, ``reranking_model``, ``weights`` and the datasets as
``datasets.datasets: [{dataset: {enabled, id}}]``. Completion apps name the input that is
the query in ``dataset_query_variable``. The chunks found go into the prompt: at the
pre-prompt's ``{{#context#}}`` placeholder, else in Dify's context block before it. Their
citations (Dify's RetrieverResource) are kept only when ``retriever_resource.enabled`` is
true, as Dify collects them only then (its "show citations" switch).

``single`` mode: Dify lets the model route the query to one dataset (by description); here
all enabled datasets are searched with the first one's own retrieval settings and the
chunks of the dataset of the best chunk are kept.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.core.errors import AppError, InvalidParam
from apps.datasets.retriever_port import DatasetRetrieverPort
from apps.workflows.models import App

logger = logging.getLogger(__name__)

CONTEXT_PLACEHOLDER = "{{#context#}}"
# Dify's simple-mode prompt rule (prompt_templates/common_chat.json: context_prompt).
CONTEXT_PROMPT = (
    "Use the following context as your learned knowledge, inside <context></context> XML "
    "tags.\n\n<context>\n{{#context#}}\n</context>\n\nWhen answer to user:\n"
    "- If you don't know, just say that you don't know.\n"
    "- If you don't know when you are not sure, ask for clarification.\n"
    "Avoid mentioning that you obtained the information from the context.\n"
    "And answer according to the language of the user's question.\n"
)


@dataclass(frozen=True)
class DatasetContext:
    text: str = ""
    resources: list[dict[str, Any]] = field(default_factory=list)


def dataset_ids_of(model_config: Mapping[str, Any]) -> list[str]:
    """The enabled datasets of ``dataset_configs.datasets.datasets`` (ids as given)."""
    configs = model_config.get("dataset_configs")
    if not isinstance(configs, Mapping):
        return []
    holder = configs.get("datasets")
    items = holder.get("datasets") if isinstance(holder, Mapping) else holder
    ids: list[str] = []
    for item in items if isinstance(items, list) else []:
        entry = item.get("dataset") if isinstance(item, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("enabled", True) and entry.get("id"):
            ids.append(str(entry["id"]))
    return ids


def dataset_node_config(configs: Mapping[str, Any]) -> dict[str, Any]:
    """``dataset_configs`` in the knowledge-retrieval node's terms (the retriever port's)."""
    if configs.get("retrieval_model") == "single":
        return {"retrieval_mode": "single"}
    threshold = configs.get("score_threshold")
    if not configs.get("score_threshold_enabled", threshold is not None):
        threshold = None
    rerank = configs.get("reranking_enable", configs.get("reranking_enabled", False))
    return {
        "retrieval_mode": "multiple",
        "top_k": configs.get("top_k") or 4,
        "score_threshold": threshold,
        "reranking_enable": bool(rerank),
        "reranking_mode": configs.get("reranking_mode") or "reranking_model",
        "reranking_model": configs.get("reranking_model") or {},
        "weights": configs.get("weights"),
    }


def context_query(app: App, *, query: str, inputs: Mapping[str, Any]) -> str:
    """What to search with: the query, or for completion apps the input named by
    ``dataset_query_variable`` (nothing when it is not set)."""
    if app.mode != "completion":
        return query
    name = (app.model_config or {}).get("dataset_query_variable")
    value = inputs.get(str(name)) if name else None
    return "" if value is None else str(value)


def dataset_context(
    app: App, *, query: str, inputs: Mapping[str, Any], message_id: str
) -> DatasetContext | None:
    """The chunks for the app's enabled datasets (None when it has none). Datasets of other
    workspaces find nothing. A failed retrieval raises ``AppError`` (a 4xx answer)."""
    config = app.model_config if isinstance(app.model_config, Mapping) else {}
    ids = dataset_ids_of(config)
    if not ids:
        return None
    search = context_query(app, query=query, inputs=inputs).strip()
    if not search:
        return DatasetContext()
    configs = config.get("dataset_configs") or {}
    try:
        items = DatasetRetrieverPort(app.workspace).retrieve(
            query=search, dataset_ids=ids, config=dataset_node_config(configs)
        )
    except AppError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidParam(f"model_config.dataset_configs is not valid: {exc}") from exc
    except Exception as exc:
        logger.exception("knowledge retrieval of a chat failed")
        raise AppError(
            f"Knowledge retrieval failed: {type(exc).__name__}", code="completion_request_error"
        ) from exc
    if configs.get("retrieval_model") == "single" and items:
        best = items[0]["metadata"]["dataset_id"]
        items = [i for i in items if i["metadata"]["dataset_id"] == best]
    text = "\n".join(str(i["content"]) for i in items)
    show = config.get("retriever_resource")
    if not (isinstance(show, Mapping) and show.get("enabled")):
        return DatasetContext(text, [])
    now = int(time.time())
    return DatasetContext(
        text, [retriever_resource(i, n, message_id, now) for n, i in enumerate(items, 1)]
    )


def retriever_resource(
    item: Mapping[str, Any], position: int, message_id: str, now: int
) -> dict[str, Any]:
    """Dify's RetrieverResource of one retrieved chunk."""
    meta = item.get("metadata") or {}
    return {
        "id": str(uuid.uuid4()),
        "message_id": message_id,
        "position": position,
        "dataset_id": meta.get("dataset_id"),
        "dataset_name": meta.get("dataset_name"),
        "document_id": meta.get("document_id"),
        "document_name": meta.get("document_name"),
        "data_source_type": meta.get("data_source_type"),
        "segment_id": meta.get("segment_id"),
        "retriever_from": "api",
        "score": meta.get("score"),
        "hit_count": meta.get("segment_hit_count"),
        "word_count": meta.get("segment_word_count"),
        "segment_position": meta.get("segment_position"),
        "index_node_hash": meta.get("segment_index_node_hash"),
        "content": item.get("content"),
        "summary": None,
        "page": None,
        "doc_metadata": meta.get("doc_metadata") or {},
        "created_at": now,
    }


def prompt_with_context(prompt: str, context: DatasetContext | None) -> str:
    """The rendered pre-prompt with the context at ``{{#context#}}``, else (when there is
    context) Dify's context block before it."""
    text = context.text if context is not None else ""
    if CONTEXT_PLACEHOLDER in prompt:
        return prompt.replace(CONTEXT_PLACEHOLDER, text)
    if not text:
        return prompt
    return CONTEXT_PROMPT.replace(CONTEXT_PLACEHOLDER, text) + prompt
