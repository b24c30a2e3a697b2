"""llm: renders the prompt (template, context, memory, vision), streams the model's reply as
it arrives, and exposes ``text``, ``reasoning_content``, ``usage`` (and structured output)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from apps.providers.runtime.base import Usage

from ..errors import NodeError
from ..variables import VariablePool
from . import register
from .base import Node, NodeResult, RunContext, StreamChunk
from .prompting import (
    build_messages,
    context_text,
    first_json,
    image_parts,
    messages_for_log,
    model_errors,
    parse_context,
    parse_memory,
    parse_model,
    parse_prompt,
    parse_vision,
    template_inputs,
    usage_dict,
)

OPEN_TAG, CLOSE_TAG = "<think", "</think>"


class ReasoningSplitter:
    """Turns reasoning + content deltas into the text to stream.

    ``tagged``: reasoning is wrapped in ``<think>…</think>`` inside the text (Dify's
    default). ``separated``: the text carries no reasoning; reasoning deltas and inline
    ``<think>`` blocks of the content go to ``reasoning`` instead (tags split across chunks
    are held back until they are complete)."""

    def __init__(self, reasoning_format: str):
        self.separated = reasoning_format == "separated"
        self.reasoning: list[str] = []
        self.opened = False  # tagged: a <think> block from reasoning deltas is open
        self.pending = ""  # separated: content not yet known to be outside a <think> block
        self.in_think = False
        self.after_think = False

    def feed(self, reasoning: str, content: str) -> str:
        out = ""
        if reasoning:
            if self.separated:
                self.reasoning.append(reasoning)
            else:
                out += reasoning if self.opened else "<think>\n" + reasoning
                self.opened = True
        if content:
            if not self.separated:
                if self.opened:
                    out, self.opened = out + "\n</think>", False
                out += content
            else:
                self.pending += content
                out += self._drain(final=False)
        return out

    def finish(self) -> str:
        if self.opened:
            self.opened = False
            return "\n</think>"
        return self._drain(final=True) if self.separated else ""

    def _drain(self, *, final: bool) -> str:
        out = []
        while self.pending:
            if self.in_think:
                end = self.pending.find(CLOSE_TAG)
                if end < 0:
                    keep = 0 if final else _partial_suffix(self.pending, CLOSE_TAG)
                    self.reasoning.append(self.pending[: len(self.pending) - keep])
                    self.pending = self.pending[len(self.pending) - keep :]
                    break
                self.reasoning.append(self.pending[:end])
                self.pending = self.pending[end + len(CLOSE_TAG) :]
                self.in_think, self.after_think = False, True
                continue
            if self.after_think:
                self.pending = self.pending.lstrip()
                if not self.pending:
                    break
                self.after_think = False
            start = self.pending.find(OPEN_TAG)
            if start >= 0:
                tag_end = self.pending.find(">", start)
                if tag_end < 0 and not final:
                    out.append(self.pending[:start])
                    self.pending = self.pending[start:]
                    break
                out.append(self.pending[:start])
                self.pending = self.pending[tag_end + 1 :] if tag_end >= 0 else ""
                self.in_think = True
                continue
            keep = 0 if final else _partial_suffix(self.pending, OPEN_TAG)
            out.append(self.pending[: len(self.pending) - keep])
            self.pending = self.pending[len(self.pending) - keep :]
            break
        return "".join(out)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that could start ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


@register
class LLMNode(Node):
    node_type = "llm"
    streamed_outputs = ("text",)

    def parse(self) -> None:
        self.model = parse_model(self)
        self.prompt = parse_prompt(self)
        self.memory = parse_memory(self)
        self.context_selector = parse_context(self)
        self.vision = parse_vision(self)
        self.reasoning_format = self.data.get("reasoning_format") or "tagged"
        if self.reasoning_format not in ("tagged", "separated"):
            raise self.fail_config("reasoning_format", "must be 'tagged' or 'separated'")
        self.schema: dict[str, Any] | None = None
        if self.data.get("structured_output_switch_on"):
            raw = self.data.get("structured_output") or {}
            schema = raw.get("schema") if isinstance(raw, Mapping) else None
            if isinstance(schema, str):
                try:
                    schema = json.loads(schema)
                except ValueError as exc:
                    raise self.fail_config("structured_output.schema", "invalid JSON") from exc
            if not isinstance(schema, dict):
                raise self.fail_config("structured_output.schema", "must be a JSON schema object")
            self.schema = schema

    def run(self, pool: VariablePool, ctx: RunContext) -> Iterator[StreamChunk | NodeResult]:
        context = context_text(pool.get_or(self.context_selector)) if self.context_selector else ""
        images = image_parts(pool, ctx, self.vision)
        messages = build_messages(
            pool, ctx, self.prompt, context=context, memory=self.memory, images=images
        )
        texts = [i.text for i in self.prompt.items if i.jinja is None]
        if self.memory is not None:
            texts.append(self.memory.query_template)
        inputs = template_inputs(pool, texts)
        if self.context_selector:
            inputs["#context#"] = context
        if images:
            inputs["#files#"] = [p["image_url"]["url"][:200] for p in images]
        parameters = dict(self.model.params)
        if self.schema is not None:
            parameters["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": self.schema},
            }
        runtime = self.port(ctx, "model_runtime")
        splitter = ReasoningSplitter(self.reasoning_format)
        text: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        with model_errors():
            stream = runtime.chat_stream(
                messages,
                provider=self.model.provider,
                model=self.model.name,
                parameters=parameters,
                user=ctx.user_id or None,
            )
            try:
                for chunk in stream:
                    if ctx.should_stop():
                        raise NodeError("stopped")
                    piece = splitter.feed(chunk.reasoning_delta, chunk.delta)
                    if piece:
                        text.append(piece)
                        yield StreamChunk((self.id, "text"), piece)
                    usage = chunk.usage or usage
                    finish_reason = chunk.finish_reason or finish_reason
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        tail = splitter.finish()
        if tail:
            text.append(tail)
            yield StreamChunk((self.id, "text"), tail)
        full_text = "".join(text)
        used = usage_dict(usage)
        outputs: dict[str, Any] = {
            "text": full_text,
            "reasoning_content": "".join(splitter.reasoning).strip(),
            "usage": used,
            "finish_reason": finish_reason,
        }
        if self.schema is not None:
            outputs["structured_output"] = _parse_structured(full_text)
        process_data = {
            **self.model.info(),
            "prompts": messages_for_log(messages),
            "usage": used,
            "finish_reason": finish_reason,
        }
        yield NodeResult(outputs=outputs, inputs=inputs, process_data=process_data, usage=used)


def _parse_structured(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = first_json(text)
    if not isinstance(value, dict):
        raise NodeError(f"structured output is not a JSON object: {text[:200]!r}")
    return value
