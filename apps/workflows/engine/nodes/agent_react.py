"""The ReAct strategy's prompt and reply parser (used by the agent node; not a node module).

The model writes ``Thought:`` / ``Action:`` / ``Action Input:`` and stops before
``Observation:``; the answer comes as ``Final Answer:``. Dify's JSON blob form
(``{"action": ..., "action_input": ...}``, action ``Final Answer``) is accepted too."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.providers.runtime.base import ToolSpec

from .prompting import first_json

REACT_STOP = ["Observation:"]
PROMPT = """{instruction}

You can use these tools:
{tools}

Use this format:

Thought: what you think about the question and what to do next
Action: the tool to use, one of [{names}]
Action Input: the tool's arguments as one JSON object
Observation: the tool's result (given to you; never write it yourself)
... (Thought / Action / Action Input / Observation can repeat)
Thought: I know the final answer
Final Answer: the answer to the user

Begin! Always start with "Thought:"."""

_FINAL = re.compile(r"Final\s+Answer\s*:\s*", re.IGNORECASE)
_ACTION = re.compile(r"Action\s*:\s*(.+)", re.IGNORECASE)
_INPUT = re.compile(r"Action\s+Input\s*:\s*", re.IGNORECASE)
_THOUGHT = re.compile(r"Thought\s*:\s*", re.IGNORECASE)


@dataclass
class ReActStep:
    thought: str = ""
    action: str | None = None
    action_input: dict[str, Any] = field(default_factory=dict)
    answer: str | None = None


def react_system_prompt(instruction: str, tools: Sequence[ToolSpec]) -> str:
    listed = "\n".join(
        f"- {t.name}: {t.description} Arguments (JSON schema): "
        f"{json.dumps(t.parameters, ensure_ascii=False)}"
        for t in tools
    )
    names = ", ".join(t.name for t in tools)
    return PROMPT.format(
        instruction=instruction or "Answer the user's question.",
        tools=listed or "(none)",
        names=names,
    ).strip()


def parse_react(text: str) -> ReActStep:
    """The step a ReAct reply describes: an action with its input, or the final answer."""
    text = text.split("Observation:")[0]
    step = ReActStep()
    final = _FINAL.search(text)
    head = text[: final.start()] if final else text
    thought = _THOUGHT.search(head)
    if thought:
        end = _ACTION.search(head, thought.end())
        step.thought = head[thought.end() : end.start() if end else len(head)].strip()
    if final:
        step.answer = text[final.end() :].strip()
        return step
    blob = first_json(head)
    if isinstance(blob, dict) and "action" in blob:
        action, value = str(blob["action"]), blob.get("action_input")
        if action.lower().replace("_", " ") == "final answer":
            step.answer = value if isinstance(value, str) else json.dumps(value)
            return step
        step.action = action
        step.action_input = _as_args(value)
        return step
    found = _ACTION.search(head)
    if found:
        step.action = found.group(1).strip().strip("`\"'")
        given = _INPUT.search(head, found.end())
        if given:
            rest = head[given.end() :].strip()
            value = first_json(rest)
            step.action_input = _as_args(value if value is not None else rest)
        return step
    if not thought:
        step.thought = text.strip()
    return step


def _as_args(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"input": value} if value else {}
        return parsed if isinstance(parsed, dict) else {"input": parsed}
    return {} if value is None else {"input": value}
