"""Apps from DSL files in the database: import, export, publish, run, records, commands."""

import io
import json

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection

from apps.core.errors import InvalidParam
from apps.workflows.dsl_services import app_export_dsl, app_import_dsl
from apps.workflows.models import App, NodeExecution, Workflow, WorkflowRun
from apps.workflows.run_services import workflow_publish, workflow_rerun, workflow_run_start
from tests.factories import make_workspace
from tests.workflows.helpers import DSL_DIR

pytestmark = pytest.mark.django_db
ROUNDTRIP = (DSL_DIR / "roundtrip_workflow.yml").read_text()
INPUTS = {"name": "Ada", "bag": {"items": ["x", "y", "z"]}}


def run_all(handle):
    events = list(handle.events())
    handle.record.refresh_from_db()
    return events


def test_import_export_reimport_is_identical():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    assert app.mode == "workflow" and app.name == "Greeter"
    exported = app_export_dsl(app=app, include_secrets=True)
    original, again = yaml.safe_load(ROUNDTRIP), yaml.safe_load(exported)
    again["version"] = original["version"]
    assert again == original
    reimported = app_import_dsl(workspace=workspace, text=exported).app
    assert app_export_dsl(app=reimported, include_secrets=True) == exported


def test_secret_environment_values_are_encrypted_and_blank_on_export():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT environment_variables::text FROM workflows_workflow WHERE app_id = %s",
            [app.pk],
        )
        stored = cursor.fetchone()[0]
    assert "tok-123-secret" not in stored
    exported = yaml.safe_load(app_export_dsl(app=app))
    secret = next(
        v for v in exported["workflow"]["environment_variables"] if v["name"] == "api_token"
    )
    assert secret["value"] == ""


def test_run_records_the_run_and_every_node():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    handle = workflow_run_start(app=app, inputs=INPUTS, user_id="end-user-1")
    run_all(handle)
    record = WorkflowRun.objects.get(pk=handle.id)
    assert record.status == "succeeded"
    assert record.outputs == {"greeting": "Hello, Ada!", "items": ["X", "Y", "Z"]}
    assert record.system_variables["user_id"] == "end-user-1"
    rows = list(NodeExecution.objects.filter(run=record).order_by("index"))
    body = [r for r in rows if r.node_id == "1711000000004"]
    assert [r.iteration_index for r in body] == [0, 1, 2]
    assert all(r.parent_node_id == "1711000000003" for r in body)
    assert record.total_steps == len(rows)
    # every second is attributed: nodes + engine = wall; persistence measured apart
    assert abs(record.elapsed_time - (record.node_time + record.engine_time)) < 1e-6
    assert record.persistence_time > 0


def test_failed_run_is_recorded_with_its_error():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    handle = workflow_run_start(app=app, inputs={})
    run_all(handle)
    assert handle.record.status == "failed" and "name is required" in handle.record.error


def test_abandoned_run_is_marked_stopped():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    handle = workflow_run_start(app=app, inputs=INPUTS)
    events = handle.events()
    next(events)
    events.close()
    handle.record.refresh_from_db()
    assert handle.record.status == "stopped"


def test_publish_and_rerun_use_the_stored_version():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=ROUNDTRIP).app
    published = workflow_publish(app=app)
    app.refresh_from_db()
    assert app.published_workflow == published and published.version != Workflow.DRAFT
    handle = workflow_run_start(app=app, inputs=INPUTS)
    run_all(handle)
    assert handle.record.workflow == published
    again = workflow_rerun(run=handle.record)
    run_all(again)
    assert again.record.inputs == handle.record.inputs and again.record.status == "succeeded"
    assert again.record.workflow == published and again.record.triggered_from == "rerun"


def test_import_reports_what_is_missing_without_failing():
    workspace = make_workspace()
    document = yaml.safe_load(ROUNDTRIP)
    document["dependencies"] = [
        {"type": "marketplace",
         "value": {"marketplace_plugin_unique_identifier": "langgenius/anthropic:0.0.9@abc"}},
        {"type": "marketplace",
         "value": {"marketplace_plugin_unique_identifier": "langgenius/openai:0.0.26@def"}},
    ]  # fmt: skip
    result = app_import_dsl(workspace=workspace, text=yaml.safe_dump(document))
    assert any("langgenius/anthropic" in w for w in result.warnings)
    assert not any("langgenius/openai" in w for w in result.warnings)


def test_invalid_file_is_invalid_param_and_creates_nothing():
    workspace = make_workspace()
    with pytest.raises(InvalidParam, match="unknown node type"):
        app_import_dsl(
            workspace=workspace,
            text=ROUNDTRIP.replace("type: template-transform", "type: teleport", 1),
        )
    assert not App.objects.exists()


def _call(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_commands_import_run_export(tmp_path):
    make_workspace("Main")
    path = tmp_path / "app.yml"
    path.write_text(ROUNDTRIP)
    app_id = _call("import_dsl", str(path), "--workspace", "Main")[-1]
    lines = _call("run_workflow", app_id, "--inputs", json.dumps(INPUTS))
    events = [json.loads(line) for line in lines]
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert {"node_started", "node_finished", "iteration_started", "iteration_next",
            "iteration_completed"} <= set(names)  # fmt: skip
    finished = events[-1]
    assert finished["data"]["status"] == "succeeded"
    assert finished["data"]["outputs"]["items"] == ["X", "Y", "Z"]
    assert all(e["workflow_run_id"] == finished["workflow_run_id"] for e in events)
    rerun = _call("run_workflow", "--rerun", finished["workflow_run_id"])
    assert json.loads(rerun[-1])["data"]["status"] == "succeeded"
    out = tmp_path / "out.yml"
    assert _call("export_dsl", app_id, "--out", str(out))[-1] == str(out)
    assert (
        yaml.safe_load(out.read_text())["workflow"]["graph"]
        == yaml.safe_load(ROUNDTRIP)["workflow"]["graph"]
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["import_dsl", "/nonexistent.yml", "--workspace", "Main"], "cannot read"),
        (["run_workflow", "not-a-uuid"], "not found"),
        (["run_workflow", "00000000-0000-0000-0000-000000000000"], "not found"),
        (["export_dsl", "00000000-0000-0000-0000-000000000000"], "not found"),
        (["run_workflow", "--rerun", "nope"], "not found"),
    ],
)
def test_command_errors_are_one_line(args, reason):
    make_workspace("Main")
    with pytest.raises(CommandError) as info:
        _call(*args)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_run_workflow_exits_non_zero_when_the_run_fails(tmp_path):
    make_workspace("Main")
    path = tmp_path / "app.yml"
    path.write_text(ROUNDTRIP)
    app_id = _call("import_dsl", str(path), "--workspace", "Main")[-1]
    with pytest.raises(CommandError, match="name is required"):
        _call("run_workflow", app_id, "--inputs", "{}")
    with pytest.raises(CommandError, match="not valid JSON"):
        _call("run_workflow", app_id, "--inputs", "{oops")


def test_chatflow_calls_the_workspace_model_and_streams_the_answer():
    from apps.providers.services import provider_credentials_set
    from apps.workflows.engine.events import TextChunk
    from tests.fakes.openai_server import FakeOpenAIServer

    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=(DSL_DIR / "llm_chat.yml").read_text()).app
    with FakeOpenAIServer(models=("gpt-4o-mini",), chunk_delay=0.01) as server:
        provider_credentials_set(
            workspace=workspace, provider_name="openai",
            credentials={"openai_api_key": server.api_key, "openai_api_base": server.base_url},
            validate=False,
        )  # fmt: skip
        server.reply_text = "Paris is lovely."
        handle = workflow_run_start(
            app=app, inputs={}, query="Where to go?", user_id="u1",
            history=[{"query": "Hi", "answer": "Hello!"}],
        )  # fmt: skip
        events = run_all(handle)
        sent = server.requests_to("/chat/completions")[-1].json
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert text == "Answer: Paris is lovely."
    record = handle.record
    assert record.status == "succeeded" and record.outputs == {"answer": text}
    assert record.total_tokens > 0
    assert [m["content"] for m in sent["messages"]][-3:] == ["Hi", "Hello!", "Where to go?"]
    llm_row = NodeExecution.objects.get(run=record, node_id="llm")
    assert llm_row.total_tokens > 0 and llm_row.outputs["text"] == "Paris is lovely."


def test_model_provider_missing_in_workspace_fails_the_node_clearly():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=(DSL_DIR / "llm_chat.yml").read_text())
    assert any("'openai' is not set up" in w for w in app.warnings)
    handle = workflow_run_start(app=app.app, inputs={}, query="hi")
    run_all(handle)
    assert handle.record.status == "failed"
    assert "not set up in this workspace" in handle.record.error


def test_conversation_variables_persist_between_runs_of_a_conversation():
    workspace = make_workspace()
    app = app_import_dsl(workspace=workspace, text=(DSL_DIR / "assigner_v2.yml").read_text()).app
    workflow = Workflow.objects.get(app=app)
    names = [v["name"] for v in workflow.conversation_variables]
    first = workflow_run_start(app=app, inputs={}, query="one", conversation_id="c-1")
    run_all(first)
    after_first = first.conversation_variables()
    second = workflow_run_start(app=app, inputs={}, query="two", conversation_id="c-1")
    assert {n: second.pool.get_or(["conversation", n]) for n in names} == after_first
    run_all(second)
    other = workflow_run_start(app=app, inputs={}, query="x", conversation_id="c-2")
    defaults = {v["name"]: v.get("value") for v in workflow.conversation_variables}
    assert {n: other.pool.get_or(["conversation", n]) for n in names} == defaults
    assert after_first != defaults
