"""Issue 7's end-to-end case through the Service API: one workflow (a Dify DSL file) with an
HTTP node, a custom OpenAPI tool, an MCP tool and a code node, all real: the OpenAPI and HTTP
server and the MCP server listen on 127.0.0.1 (allow-listed for this test), the code runs in
the code sandbox, the run is started with POST /v1/workflows/run."""

from __future__ import annotations

import json

import httpx2
import pytest

from apps.tools import services
from apps.workflows.dsl_services import app_import_dsl
from apps.workflows.models import NodeExecution, WorkflowRun
from apps.workflows.run_services import workflow_publish
from tests.factories import app_key, make_workspace
from tests.tools.helpers import pet_schema

pytestmark = pytest.mark.django_db(transaction=True)

DSL = """
kind: app
version: "0.3.0"
app: {name: Pet report, mode: workflow, description: HTTP + OpenAPI tool + MCP tool + code}
workflow:
  graph:
    nodes:
      - id: start
        type: custom
        data:
          type: start
          title: Start
          variables:
            - {variable: pet, label: Pet, type: text-input, required: true}
            - {variable: base, label: Base URL, type: text-input, required: true}
      - id: http
        type: custom
        data:
          type: http-request
          title: Fetch the pet list
          method: get
          url: "{{#start.base#}}/v1/pets"
          authorization: {type: no-auth, config: null}
          headers: ""
          params: "owner:{{#start.pet#}}"
          body: {type: none, data: []}
          timeout: {connect: 5, read: 10, write: 5}
      - id: pet
        type: custom
        data:
          type: tool
          title: Get the pet (OpenAPI tool)
          provider_type: api
          provider_id: "{api_provider_id}"
          provider_name: pets
          tool_name: getPet
          tool_configurations: {}
          tool_parameters:
            petId: {type: mixed, value: "{{#start.pet#}}"}
            limit: {type: constant, value: 3}
      - id: add
        type: custom
        data:
          type: tool
          title: Add (MCP tool)
          provider_type: mcp
          provider_id: "{mcp_provider_id}"
          provider_name: fake-mcp
          tool_name: add
          tool_configurations: {}
          tool_parameters:
            a: {type: constant, value: 40}
            b: {type: constant, value: 2}
      - id: code
        type: custom
        data:
          type: code
          title: Report (code)
          code_language: python3
          code: |
            import json

            def main(status: int, listing: str, pet: list, total: str) -> dict:
                owner = json.loads(listing)["query"]["owner"]
                return {"report": f"{owner}: {pet[0]['path']} -> {total.strip()} ({status})"}
          variables:
            - {variable: status, value_selector: [http, status_code]}
            - {variable: listing, value_selector: [http, body]}
            - {variable: pet, value_selector: [pet, json]}
            - {variable: total, value_selector: [add, text]}
          outputs:
            report: {type: string, children: null}
      - id: end
        type: custom
        data:
          type: end
          title: End
          outputs:
            - {variable: report, value_selector: [code, report]}
    edges:
      - {id: e1, source: start, target: http, sourceHandle: source, targetHandle: target}
      - {id: e2, source: http, target: pet, sourceHandle: source, targetHandle: target}
      - {id: e3, source: pet, target: add, sourceHandle: source, targetHandle: target}
      - {id: e4, source: add, target: code, sourceHandle: source, targetHandle: target}
      - {id: e5, source: code, target: end, sourceHandle: source, targetHandle: target}
  features: {}
  environment_variables: []
  conversation_variables: []
"""


def test_http_openapi_mcp_and_code_nodes_run_end_to_end(
    asgi_server, pet_server, mcp_server, allow_loopback
):
    workspace = make_workspace()
    api = services.api_tool_provider_create(
        workspace=workspace, name="pets", schema=pet_schema(pet_server.url),
        credentials={"auth_type": "api_key_query", "api_key_query_param": "key",
                     "api_key_value": "k-42"},
    )  # fmt: skip
    mcp = services.mcp_provider_create(
        workspace=workspace, name="Fake MCP", server_url=mcp_server.streamable_http_url
    )
    text = DSL.replace("{api_provider_id}", str(api.pk)).replace("{mcp_provider_id}", str(mcp.pk))
    app = app_import_dsl(workspace=workspace, text=text).app
    workflow_publish(app=app)

    response = httpx2.post(
        f"{asgi_server}/v1/workflows/run",
        headers={"Authorization": f"Bearer {app_key(app)}"},
        json={"inputs": {"pet": "rex", "base": pet_server.url}, "user": "u-1",
              "response_mode": "blocking"},
        timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "succeeded", data.get("error")
    assert data["outputs"] == {"report": "rex: /v1/pets/rex -> 42 (200)"}

    # every component was really reached
    paths = [(r.path, dict(r.query)) for r in pet_server.requests]
    assert ("/v1/pets", {"owner": "rex"}) in paths
    assert ("/v1/pets/rex", {"limit": "3", "key": "k-42"}) in paths
    assert ("add", {"a": 40, "b": 2}) in mcp_server.calls
    run = WorkflowRun.objects.get(pk=response.json()["workflow_run_id"])
    nodes = {n.node_id: n.status for n in NodeExecution.objects.filter(run=run)}
    assert nodes == dict.fromkeys(["start", "http", "pet", "add", "code", "end"], "succeeded")
    json.dumps(run.outputs)  # stored as JSON


def test_the_same_workflow_without_the_allow_list_refuses_loopback(
    asgi_server, pet_server, mcp_server, settings
):
    """Nothing internal is reachable by default: the HTTP node fails at the guard."""
    settings.SSRF_ALLOWED_NETWORKS = []
    workspace = make_workspace()
    api = services.api_tool_provider_create(
        workspace=workspace,
        name="pets",
        schema=pet_schema(pet_server.url),
        credentials={},
    )
    text = DSL.replace("{api_provider_id}", str(api.pk)).replace("{mcp_provider_id}", "none")
    app = app_import_dsl(workspace=workspace, text=text).app
    workflow_publish(app=app)
    response = httpx2.post(
        f"{asgi_server}/v1/workflows/run",
        headers={"Authorization": f"Bearer {app_key(app)}"},
        json={"inputs": {"pet": "rex", "base": pet_server.url}, "user": "u-1"},
        timeout=60,
    )
    data = response.json()["data"]
    assert data["status"] == "failed" and "not allowed" in data["error"]
    assert pet_server.requests == []
