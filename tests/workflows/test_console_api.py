"""Console API for apps and workflows: roles, tenants, import/export, drafts, runs."""

import json

import pytest
import yaml
from asgiref.sync import async_to_sync

from apps.workflows.models import App, Workflow, WorkflowRun
from tests.factories import add_member, assert_dify_error, console, make_workspace, owner_of
from tests.workflows.helpers import DSL_DIR

pytestmark = pytest.mark.django_db
ROUNDTRIP = (DSL_DIR / "roundtrip_workflow.yml").read_text()
INPUTS = {"name": "Ada", "bag": {"items": ["q"]}}


def imported(client, **extra):
    response = client.post(
        "/console/api/apps/imports", {"yaml_content": ROUNDTRIP, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def sse_events(response):
    async def collect():
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(collect)().decode()
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


def test_import_export_and_app_detail():
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    app = imported(client)
    assert app["mode"] == "workflow" and app["name"] == "Greeter"
    detail = client.get(f"/console/api/apps/{app['id']}").json()
    assert detail["id"] == app["id"]
    exported = client.get(f"/console/api/apps/{app['id']}/export").json()["data"]
    assert yaml.safe_load(exported)["workflow"]["graph"] == yaml.safe_load(ROUNDTRIP)[
        "workflow"]["graph"]  # fmt: skip
    patched = client.patch(f"/console/api/apps/{app['id']}", {"name": "Renamed"}, format="json")
    assert patched.json()["name"] == "Renamed"


@pytest.mark.django_db(transaction=True)  # the stream's thread has its own connection
def test_draft_edit_publish_run_and_inspect_runs():
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    app_id = imported(client)["id"]
    draft = client.get(f"/console/api/apps/{app_id}/workflows/draft").json()
    secret = next(v for v in draft["environment_variables"] if v["name"] == "api_token")
    assert secret["value"] == "[__HIDDEN__]"
    draft["graph"]["nodes"][1]["data"]["template"] = "Hi {{ name }}"
    saved = client.post(f"/console/api/apps/{app_id}/workflows/draft", draft, format="json")
    assert saved.status_code == 200
    stored = Workflow.objects.get(app_id=app_id, version="draft")
    assert "tok-123-secret" not in json.dumps(stored.environment_variables)  # still sealed
    run = client.post(f"/console/api/apps/{app_id}/workflows/draft/run", {"inputs": INPUTS},
                      format="json")  # fmt: skip
    events = sse_events(run)
    assert events[0]["event"] == "workflow_started" and events[-1]["event"] == "workflow_finished"
    assert events[-1]["data"]["outputs"]["greeting"] == "Hi Ada"
    published = client.post(f"/console/api/apps/{app_id}/workflows/publish").json()
    assert published["result"] == "success"
    assert App.objects.get(pk=app_id).published_workflow is not None
    runs = client.get(f"/console/api/apps/{app_id}/workflow-runs").json()["data"]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    detail = client.get(f"/console/api/apps/{app_id}/workflow-runs/{runs[0]['id']}").json()
    assert detail["node_executions"][0]["node_id"] == "1711000000001"


def test_invalid_draft_graph_is_a_400_naming_the_problem():
    workspace = make_workspace()
    client = console(owner_of(workspace), workspace)
    app_id = imported(client)["id"]
    bad = {"graph": {"nodes": [{"id": "x", "data": {"type": "warp"}}], "edges": []}}
    body = assert_dify_error(
        client.post(f"/console/api/apps/{app_id}/workflows/draft", bad, format="json"),
        400, "invalid_param",
    )  # fmt: skip
    assert "unknown node type 'warp'" in body["message"]
    assert_dify_error(
        client.post("/console/api/apps/imports", {"yaml_content": "- nope"}, format="json"),
        400, "invalid_param",
    )  # fmt: skip


def test_normal_members_read_but_cannot_change():
    workspace = make_workspace()
    app_id = imported(console(owner_of(workspace), workspace))["id"]
    reader = console(add_member(workspace, "normal"), workspace)
    assert reader.get(f"/console/api/apps/{app_id}/workflows/draft").status_code == 200
    for response in (
        reader.post(f"/console/api/apps/{app_id}/workflows/publish"),
        reader.post(f"/console/api/apps/{app_id}/workflows/draft/run", {}, format="json"),
        reader.patch(f"/console/api/apps/{app_id}", {"name": "x"}, format="json"),
        reader.delete(f"/console/api/apps/{app_id}"),
        reader.post("/console/api/apps/imports", {"yaml_content": ROUNDTRIP}, format="json"),
    ):
        assert_dify_error(response, 403, "forbidden")


@pytest.mark.django_db(transaction=True)
def test_other_workspace_sees_nothing():
    a, b = make_workspace(), make_workspace()
    client_a = console(owner_of(a), a)
    app_id = imported(client_a)["id"]
    client_a.post(f"/console/api/apps/{app_id}/workflows/draft/run", {"inputs": INPUTS},
                  format="json")  # fmt: skip
    run_id = str(WorkflowRun.objects.get().pk)
    client_b = console(owner_of(b), b)
    for url in (
        f"/console/api/apps/{app_id}",
        f"/console/api/apps/{app_id}/export",
        f"/console/api/apps/{app_id}/workflows/draft",
        f"/console/api/apps/{app_id}/workflow-runs",
        f"/console/api/apps/{app_id}/workflow-runs/{run_id}",
    ):
        assert_dify_error(client_b.get(url), 404, "not_found")
    assert_dify_error(client_b.delete(f"/console/api/apps/{app_id}"), 404, "not_found")
    assert App.objects.filter(pk=app_id).exists()
