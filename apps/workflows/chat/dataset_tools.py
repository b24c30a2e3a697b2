"""The datasets of an agent-chat app as tools of its agent, as Dify sets them up.

Dify does not put an agent's dataset chunks in the prompt: the model decides when to search.
In ``single`` retrieval mode each enabled dataset is one tool, ``dataset_<id>`` (dashes as
underscores), described by the dataset's description or "useful for when you want to answer
queries about the <name>", searched with the dataset's own retrieval settings. In
``multiple`` mode one tool, ``dataset_<workspace id>``, searches them all with the app's
``dataset_configs`` (top_k, threshold, reranking). Each tool takes one ``query`` argument;
its observation is the chunks' text. When the app shows citations
(``retriever_resource.enabled``) every chunk found becomes a RetrieverResource of the
message, reported in ``message_end`` as in the other modes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.datasets.retriever_port import DatasetRetrieverPort
from apps.workflows.engine.agent_loop import AgentTool
from apps.workflows.engine.ports import ToolResult
from apps.workflows.models import App

from .context import dataset_ids_of, dataset_node_config, retriever_resource

QUERY_HELP = "Query for the dataset to be used to retrieve the dataset."
MULTI_HELP = "dataset multi retriever and rerank"


@dataclass
class DatasetCitations:
    """The RetrieverResources the dataset tools of one message found (kept only when the
    app shows citations)."""

    message_id: str
    shown: bool
    resources: list[dict[str, Any]] = field(default_factory=list)

    def add(self, items: list[dict[str, Any]]) -> None:
        if not self.shown:
            return
        now = int(time.time())
        start = len(self.resources) + 1
        self.resources.extend(
            retriever_resource(item, n, self.message_id, now) for n, item in enumerate(items, start)
        )


def _schema(help_text: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"query": {"type": "string", "description": help_text}},
        "required": ["query"],
    }


def dataset_tools(app: App, *, message_id: str) -> tuple[tuple[AgentTool, ...], DatasetCitations]:
    """The agent tools of ``app``'s enabled datasets (none when it has none; datasets of
    other workspaces are left out) and the citations they collect for ``message_id``."""
    config = app.model_config if isinstance(app.model_config, Mapping) else {}
    show = config.get("retriever_resource")
    citations = DatasetCitations(
        message_id, isinstance(show, Mapping) and bool(show.get("enabled"))
    )
    port = DatasetRetrieverPort(app.workspace)
    datasets = port.describe(dataset_ids_of(config))
    if not datasets:
        return (), citations
    configs = config.get("dataset_configs") or {}

    def searcher(ids: list[str], node_config: dict[str, Any]) -> Any:
        def call(args: dict[str, Any]) -> ToolResult:
            query = str(args.get("query") or "").strip()
            if not query:
                return ToolResult(text="please input query")
            items = port.retrieve(query=query, dataset_ids=ids, config=node_config)
            citations.add(items)
            return ToolResult(text="\n".join(str(i["content"]) for i in items))

        return call

    if configs.get("retrieval_model") == "single":
        tools = []
        for dataset in datasets:
            about = dataset["description"] or (
                f"useful for when you want to answer queries about the {dataset['name']}"
            )
            tools.append(
                AgentTool(
                    name=f"dataset_{dataset['id'].replace('-', '_')}",
                    description=about.replace("\n", "").replace("\r", ""),
                    schema=_schema(QUERY_HELP),
                    call=searcher([dataset["id"]], {"retrieval_mode": "single"}),
                )
            )
        return tuple(tools), citations
    multi = AgentTool(
        name=f"dataset_{str(app.workspace_id).replace('-', '_')}",
        description=f"{MULTI_HELP}. ",
        schema=_schema(MULTI_HELP),
        call=searcher([d["id"] for d in datasets], dataset_node_config(configs)),
    )
    return (multi,), citations
