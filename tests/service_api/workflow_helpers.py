"""Shared set-up of the workflow Service API suites: apps, a model, an SSE reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

from apps.providers.services import default_model_set, provider_credentials_set
from apps.tenants.models import Workspace
from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import App

DSL_DIR = Path(__file__).resolve().parents[1] / "workflows" / "dsl"
GREETER_INPUTS = {"name": "Ada", "bag": {"items": ["a"]}}

LLM_WORKFLOW = """
kind: app
version: "0.3.0"
app: {name: Writer, mode: workflow, description: An LLM feeding the end node}
workflow:
  graph:
    nodes:
      - id: start
        type: custom
        data:
          type: start
          title: Start
          variables:
            - {variable: topic, label: Topic, type: text-input, required: true, max_length: 64}
      - id: llm
        type: custom
        data:
          type: llm
          title: LLM
          model: {provider: openai_api_compatible, name: fake-chat, mode: chat,
                  completion_params: {temperature: 0.2}}
          prompt_template:
            - {id: s, role: system, text: "You write short notes."}
            - {id: u, role: user, text: "Write about {{#start.topic#}}"}
          context: {enabled: false, variable_selector: []}
          vision: {enabled: false}
      - id: end
        type: custom
        data:
          type: end
          title: End
          outputs:
            - {variable: text, value_selector: [llm, text]}
    edges:
      - {id: e1, source: start, target: llm, sourceHandle: source, targetHandle: target,
         data: {sourceType: start, targetType: llm}}
      - {id: e2, source: llm, target: end, sourceHandle: source, targetHandle: target,
         data: {sourceType: llm, targetType: end}}
  features: {}
  environment_variables: []
  conversation_variables: []
"""


def greeter_app(workspace: Workspace, *, publish: bool = True) -> App:
    text = (DSL_DIR / "roundtrip_workflow.yml").read_text()
    return app_import_dsl(workspace=workspace, text=text, publish=publish).app


def llm_app(workspace: Workspace, fake: Any) -> App:
    """A workflow app whose LLM node calls the fake OpenAI-compatible server."""
    provider_credentials_set(
        workspace=workspace, provider_name="openai_api_compatible",
        credentials={"base_url": fake.base_url, "api_key": fake.api_key, "models": "fake-chat"},
        validate=False,
    )  # fmt: skip
    default_model_set(
        workspace=workspace, model_type="llm", provider_name="openai_api_compatible",
        model="fake-chat",
    )  # fmt: skip
    return app_import_dsl(workspace=workspace, text=LLM_WORKFLOW, publish=True).app


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def read_sse(response: httpx.Response) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """``(id, payload)`` of each data event (pings skipped) until the server closes."""
    event_id: int | None = None
    data: dict[str, Any] | None = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "":
            if data is not None:
                yield event_id, data
            event_id, data = None, None


def stream_run(
    base_url: str, key: str, body: dict[str, Any], path: str = "/v1/workflows/run"
) -> list[tuple[int | None, dict[str, Any]]]:
    with httpx.stream(
        "POST", base_url + path, json={"response_mode": "streaming", **body},
        headers=auth(key), timeout=30,
    ) as response:  # fmt: skip
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_sse(response))


def run_events(
    base_url: str,
    key: str,
    run_id: str,
    user: str,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> list[tuple[int | None, dict[str, Any]]]:
    with httpx.stream(
        "GET", f"{base_url}/v1/workflow/{run_id}/events", params={"user": user, **params},
        headers={**auth(key), **(headers or {})}, timeout=30,
    ) as response:  # fmt: skip
        assert response.status_code == 200, response.read()
        return list(read_sse(response))
