"""question-classifier: asks the model which class the query belongs to and takes that
class's branch (edge handle = class id). Like Dify, when the reply names no known class the
first class is used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from apps.providers.runtime.base import ChatMessage

from ..variables import VariablePool, to_text
from . import register
from .base import Node, NodeResult, RunContext
from .prompting import (
    first_json,
    history_text,
    image_parts,
    messages_for_log,
    model_errors,
    parse_memory,
    parse_model,
    parse_vision,
    usage_dict,
    with_images,
)

SYSTEM_PROMPT = """You are a text classification engine. Read the input text and decide which \
one of the given categories it belongs to.

Categories (JSON list):
{categories}
{instructions}{histories}
Answer with one JSON object and nothing else, with the id and the name of the chosen \
category exactly as listed:
{{"category_id": "<id>", "category_name": "<name>"}}"""


@register
class QuestionClassifierNode(Node):
    node_type = "question-classifier"
    is_branch = True

    def parse(self) -> None:
        self.query_selector = self.selector("query_variable_selector")
        self.model = parse_model(self)
        classes = self.data.get("classes")
        if not isinstance(classes, list) or not classes:
            raise self.fail_config("classes", "must be a non-empty list of {id, name}")
        self.classes: list[tuple[str, str]] = []
        for i, item in enumerate(classes):
            if not isinstance(item, Mapping) or not item.get("id"):
                raise self.fail_config(f"classes[{i}].id", "is required")
            self.classes.append((str(item["id"]), str(item.get("name") or "")))
        instruction = self.data.get("instruction") or ""
        if not isinstance(instruction, str):
            raise self.fail_config("instruction", "must be a string")
        self.instruction = instruction
        self.memory = parse_memory(self)
        self.vision = parse_vision(self)

    def run(self, pool: VariablePool, ctx: RunContext) -> NodeResult:
        query = to_text(pool.get_or(self.query_selector, ""))
        instruction = pool.render(self.instruction).strip()
        categories = [{"category_id": i, "category_name": n} for i, n in self.classes]
        past = history_text(ctx, self.memory)
        system = SYSTEM_PROMPT.format(
            categories=json.dumps(categories, ensure_ascii=False),
            instructions=f"\nClassification instructions:\n{instruction}\n" if instruction else "",
            histories=f"\nConversation so far:\n{past}\n" if past else "",
        )
        messages = [ChatMessage.system(system), ChatMessage.user(query)]
        messages = with_images(messages, image_parts(pool, ctx, self.vision))
        runtime = self.port(ctx, "model_runtime")
        with model_errors():
            result = runtime.chat(
                messages,
                provider=self.model.provider,
                model=self.model.name,
                parameters=self.model.params,
                user=ctx.user_id or None,
            )
        class_id, class_name = self.choose(result.text)
        used = usage_dict(result.usage)
        process_data = {
            **self.model.info(),
            "prompts": messages_for_log(messages),
            "usage": used,
            "finish_reason": result.finish_reason,
            "llm_text": result.text,
        }
        return NodeResult(
            outputs={"class_name": class_name, "class_id": class_id, "usage": used},
            inputs={"query": query},
            process_data=process_data,
            edge_handle=class_id,
            usage=used,
        )

    def choose(self, text: str) -> tuple[str, str]:
        """The class the reply names: JSON category_id, then category_name, then a bare id or
        name; otherwise the first class (Dify's fallback)."""
        by_id = {i: (i, n) for i, n in self.classes}
        by_name = {n.strip().lower(): (i, n) for i, n in reversed(self.classes) if n}
        reply: Any = first_json(text)
        if isinstance(reply, list) and reply:
            reply = reply[0]
        if isinstance(reply, Mapping):
            found = by_id.get(str(reply.get("category_id", "")))
            name = str(reply.get("category_name", "")).strip().lower()
            found = found or by_name.get(name)
            if found:
                return found
        bare = text.strip().strip("`'\".").strip()
        return by_id.get(bare) or by_name.get(bare.lower()) or self.classes[0]
