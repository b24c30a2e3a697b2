"""The workflow engine's tool and agent nodes calling a custom API tool, through
``workflow_run_start`` (the Django run service) and the workspace's real ports."""

import pytest

from apps.providers.services import provider_credentials_set
from apps.tools import services
from apps.workflows.models import NodeExecution
from apps.workflows.run_services import workflow_run_start
from tests.factories import make_workspace
from tests.tools.helpers import end_node, pet_schema, workflow_app

pytestmark = pytest.mark.django_db
START = {"id": "start", "type": "start",
         "variables": [{"variable": "pet", "type": "text-input", "required": True}]}  # fmt: skip


def api_tool(workspace, server):
    return services.api_tool_provider_create(
        workspace=workspace, name="pets", schema=pet_schema(server.url),
        credentials={"auth_type": "api_key_header", "api_key_header": "X-Key",
                     "api_key_value": "k-1"},
    )  # fmt: skip


def run(app, **inputs):
    handle = workflow_run_start(app=app, inputs=inputs, user_id="u-1")
    events = list(handle.events())
    handle.record.refresh_from_db()
    return handle.record, events


def test_tool_node_calls_the_api_tool(pet_server, allow_loopback):
    workspace = make_workspace()
    provider = api_tool(workspace, pet_server)
    tool = {
        "id": "tool", "type": "tool", "provider_type": "api", "provider_id": str(provider.pk),
        "provider_name": "pets", "tool_name": "getPet", "tool_configurations": {},
        "tool_parameters": {"petId": {"type": "mixed", "value": "pet-{{#start.pet#}}"},
                            "limit": {"type": "constant", "value": 2}},
    }  # fmt: skip
    nodes = [START, tool, end_node(json=["tool", "json"], text=["tool", "text"])]
    app = workflow_app(workspace, nodes, [("start", "tool"), ("tool", "end")])
    record, _ = run(app, pet="rex")
    assert record.status == "succeeded", record.error
    assert pet_server.last.path == "/v1/pets/pet-rex" and pet_server.last.query == [("limit", "2")]
    assert pet_server.last.headers["x-key"] == "k-1"
    assert record.outputs["json"][0]["path"] == "/v1/pets/pet-rex"
    row = NodeExecution.objects.get(run=record, node_id="tool")
    assert row.inputs == {"petId": "pet-rex", "limit": 2}
    assert row.outputs["text"] == record.outputs["text"]


def test_tool_node_failure_names_the_tool(pet_server):
    workspace = make_workspace()
    api_tool(workspace, pet_server)
    tool = {"id": "tool", "type": "tool", "provider_type": "api", "provider_id": "pets",
            "tool_name": "getPet", "tool_parameters": {
                "petId": {"type": "mixed", "value": "{{#start.pet#}}"}}}  # fmt: skip
    app = workflow_app(workspace, [START, tool, end_node(text=["tool", "text"])],
                       [("start", "tool"), ("tool", "end")])  # fmt: skip
    record, _ = run(app, pet="1")  # 127.0.0.1 is not allow-listed here
    assert record.status == "failed"
    assert "tool invoke error" in record.error and "not allowed" in record.error
    assert pet_server.requests == []


def test_agent_node_function_calling_uses_the_api_tool(pet_server, allow_loopback, fake_openai):
    workspace = make_workspace()
    api_tool(workspace, pet_server)
    provider_credentials_set(
        workspace=workspace, provider_name="openai",
        credentials={"openai_api_key": fake_openai.api_key,
                     "openai_api_base": fake_openai.base_url},
        validate=False,
    )  # fmt: skip
    fake_openai.queue_tool_calls({"name": "getPet", "arguments": {"petId": "42"}})
    fake_openai.reply_text = "Pet 42 is fine."
    model = {"provider": "langgenius/openai/openai", "model": "fake-chat", "mode": "chat",
             "model_type": "llm", "completion_params": {}}  # fmt: skip
    tools = [{"enabled": True, "type": "api", "provider_name": "pets", "tool_name": "getPet",
              "tool_label": "Find a pet", "parameters": {}, "settings": {}}]  # fmt: skip
    agent = {
        "id": "agent", "type": "agent", "agent_strategy_provider_name": "langgenius/agent/agent",
        "agent_strategy_name": "function_calling",
        "agent_parameters": {
            "model": {"type": "constant", "value": model},
            "tools": {"type": "constant", "value": tools},
            "instruction": {"type": "constant", "value": "You look pets up."},
            "query": {"type": "constant", "value": "How is pet {{#start.pet#}}?"},
        },
    }  # fmt: skip
    nodes = [START, agent, end_node(text=["agent", "text"], json=["agent", "json"])]
    app = workflow_app(workspace, nodes, [("start", "agent"), ("agent", "end")])
    record, _ = run(app, pet="42")
    assert record.status == "succeeded", record.error
    assert record.outputs["text"] == "Pet 42 is fine."
    assert record.outputs["json"][0]["path"] == "/v1/pets/42"
    assert pet_server.last.path == "/v1/pets/42" and pet_server.last.headers["x-key"] == "k-1"
    first = fake_openai.requests_to("/chat/completions")[0].json
    function = first["tools"][0]["function"]
    assert function["name"] == "getPet"
    assert function["parameters"]["properties"]["petId"] == {
        "type": "string",
        "description": "The pet id",
    }  # fmt: skip  (the schema comes from the OpenAPI document, through describe())
    assert function["parameters"]["required"] == ["petId"]
