"""A published workflow app invoked as a tool: parameters from its start variables, outputs
back as json + text, runs recorded, self-calls refused, other workspaces see nothing."""

import json

import pytest

from apps.core.errors import InvalidParam, NotFound
from apps.tools import services
from apps.tools.base import ToolError
from apps.tools.invoker import WorkspaceToolInvoker
from apps.workflows.models import WorkflowRun
from tests.factories import make_app, make_workspace
from tests.tools.helpers import end_node, workflow_app

pytestmark = pytest.mark.django_db

START = {
    "id": "start", "type": "start",
    "variables": [
        {"variable": "name", "label": "Name", "type": "text-input", "required": True},
        {"variable": "times", "label": "Times", "type": "number", "required": False,
         "default": 1},
        {"variable": "tone", "type": "select", "options": ["warm", "dry"]},
    ],
}  # fmt: skip
GREET = {
    "id": "greet", "type": "template-transform",
    "variables": [{"variable": "name", "value_selector": ["start", "name"]},
                  {"variable": "times", "value_selector": ["start", "times"]}],
    "template": "Hello {{ name }} x{{ times }}",
}  # fmt: skip


def greeter(workspace, **kwargs):
    nodes = [START, GREET, end_node(greeting=["greet", "output"], times=["start", "times"])]
    return workflow_app(workspace, nodes, [("start", "greet"), ("greet", "end")], **kwargs)


def make_tool(workspace, app, name="greeter", **kwargs):
    kwargs.setdefault("parameters", [
        {"name": "name", "description": "Who to greet", "form": "llm"},
        {"name": "times", "description": "How often", "form": "form"},
    ])  # fmt: skip
    return services.workflow_tool_provider_create(
        workspace=workspace, app_id=app.pk, name=name, label="Greeter",
        description="Greets someone", **kwargs,
    )  # fmt: skip


def test_published_workflow_runs_as_a_tool():
    workspace = make_workspace()
    app = greeter(workspace)
    provider = make_tool(workspace, app)
    invoker = WorkspaceToolInvoker(workspace)
    described = invoker.describe("workflow", str(provider.pk), "greeter")
    assert described.description == "Greets someone"
    assert described.parameters == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Who to greet"},
            "tone": {"type": "string", "enum": ["warm", "dry"]},
        },
        "required": ["name"],
    }  # fmt: skip  (times is a form parameter: set where the tool is used, not by the model)
    result = invoker.invoke(
        provider_type="workflow", provider_id="greeter", tool_name="greeter",
        parameters={"name": "Ada", "times": "2"}, user_id="end-user-7",
    )  # fmt: skip
    assert result.json == [{"greeting": "Hello Ada x2", "times": 2}]
    assert json.loads(result.text) == {"greeting": "Hello Ada x2", "times": 2}
    run = WorkflowRun.objects.get(app=app)
    assert run.status == "succeeded" and run.workflow == app.published_workflow
    assert run.system_variables["user_id"] == "end-user-7"


def test_missing_required_parameter_and_bad_option_fail_before_running():
    workspace = make_workspace()
    app = greeter(workspace)
    make_tool(workspace, app)
    invoker = WorkspaceToolInvoker(workspace)
    with pytest.raises(ToolError, match="'name' is required"):
        invoker.invoke(provider_type="workflow", provider_id="greeter", tool_name="greeter",
                       parameters={})  # fmt: skip
    with pytest.raises(ToolError, match="must be one of warm, dry"):
        invoker.invoke(provider_type="workflow", provider_id="greeter", tool_name="greeter",
                       parameters={"name": "x", "tone": "loud"})  # fmt: skip
    assert not WorkflowRun.objects.filter(app=app).exists()


def test_a_workflow_tool_calling_itself_is_refused():
    workspace = make_workspace()
    call_self = {
        "id": "tool", "type": "tool", "provider_type": "workflow", "provider_id": "loop",
        "provider_name": "loop", "tool_name": "loop", "tool_configurations": {},
        "tool_parameters": {"q": {"type": "mixed", "value": "{{#start.q#}}"}},
    }  # fmt: skip
    start = {"id": "start", "type": "start",
             "variables": [{"variable": "q", "type": "text-input"}]}  # fmt: skip
    nodes = [start, call_self, end_node(text=["tool", "text"])]
    app = workflow_app(workspace, nodes, [("start", "tool"), ("tool", "end")], name="Loop")
    services.workflow_tool_provider_create(workspace=workspace, app_id=app.pk, name="loop")
    with pytest.raises(ToolError, match="workflow tool loop calls itself"):
        WorkspaceToolInvoker(workspace).invoke(
            provider_type="workflow", provider_id="loop", tool_name="loop",
            parameters={"q": "hi"},
        )  # fmt: skip
    run = WorkflowRun.objects.get(app=app)  # the inner call was refused before it started
    assert run.status == "failed" and "calls itself" in run.error


def test_create_checks_the_app_and_the_parameters():
    workspace, other = make_workspace(), make_workspace()
    app = greeter(workspace)
    with pytest.raises(InvalidParam, match="is a chat app, not a workflow"):
        services.workflow_tool_provider_create(
            workspace=workspace, app_id=make_app(workspace, "chat").pk, name="x"
        )
    draft_only = greeter(workspace, name="Draft", publish=False)
    with pytest.raises(InvalidParam, match="is not published"):
        services.workflow_tool_provider_create(workspace=workspace, app_id=draft_only.pk, name="x")
    with pytest.raises(InvalidParam, match="'age' is not an input of the workflow"):
        make_tool(workspace, app, parameters=[{"name": "age"}])
    with pytest.raises(InvalidParam, match="only letters, digits and _"):
        make_tool(workspace, app, name="has space")
    with pytest.raises(NotFound):
        services.workflow_tool_provider_create(workspace=other, app_id=app.pk, name="x")
    make_tool(workspace, app)
    with pytest.raises(InvalidParam, match="already exists"):
        make_tool(workspace, app, name="again")


def test_workflow_tool_of_another_workspace_is_not_found():
    owner, other = make_workspace(), make_workspace()
    provider = make_tool(owner, greeter(owner))
    invoker = WorkspaceToolInvoker(other)
    for ref in ("greeter", str(provider.pk), str(provider.app_id)):
        with pytest.raises(ToolError, match="not found"):
            invoker.invoke(provider_type="workflow", provider_id=ref, tool_name="greeter",
                           parameters={"name": "x"})  # fmt: skip
    assert not WorkflowRun.objects.exists()
