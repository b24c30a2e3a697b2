"""Console API of tools: listing, CRUD of custom (OpenAPI), workflow and MCP providers,
built-in credentials; Dify's error bodies; every endpoint refuses another workspace's data."""

import pytest

from apps.tenants.roles import Role
from apps.tools.models import ApiToolProvider, McpToolProvider, WorkflowToolProvider
from tests.factories import add_member, assert_dify_error, console, make_workspace, owner_of
from tests.tools.helpers import ACME_KEY as KEY
from tests.tools.helpers import end_node, pet_schema, workflow_app

pytestmark = pytest.mark.django_db
BASE = "/console/api/workspaces/current"
P = f"{BASE}/tool-provider"
START = {"id": "start", "type": "start",
         "variables": [{"variable": "city", "type": "text-input", "required": True}]}  # fmt: skip


def owner_client(workspace):
    return console(owner_of(workspace), workspace)


def create_api(client, server_url="https://pets.example.com", **extra):
    body = {"provider": "pets", "schema": pet_schema(server_url), "schema_type": "openapi",
            "credentials": {"auth_type": "api_key_header", "api_key_value": "sk-secret-abcdef123",
                            "api_key_header_prefix": "bearer"}, **extra}  # fmt: skip
    return client.post(f"{P}/api", body, format="json")


def create_workflow_tool(client, workspace):
    app = workflow_app(workspace, [START, end_node(city=["start", "city"])],
                       [("start", "end")], name="City echo")  # fmt: skip
    body = {"workflow_app_id": str(app.pk), "name": "city_echo", "label": "City echo",
            "description": "Echo a city",
            "parameters": [{"name": "city", "description": "A city", "form": "llm"}]}  # fmt: skip
    return client.post(f"{P}/workflow", body, format="json")


def test_custom_tool_crud_with_masked_credentials(pet_server, allow_loopback):
    workspace = make_workspace()
    client = owner_client(workspace)
    created = create_api(client, pet_server.url)
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["type"] == "api" and data["name"] == "pets"
    assert [t["name"] for t in data["tools"]] == ["getPet", "addPet", "missing"]
    assert data["credentials"]["api_key_value"] == "sk-s***********f123"
    assert "sk-secret-abcdef123" not in created.content.decode()
    url = f"{P}/api/{data['id']}"
    assert client.get(url).json()["schema"] == pet_schema(pet_server.url)
    patched = client.patch(url, {"description": "Pets!", "credentials": data["credentials"]},
                           format="json")  # fmt: skip
    assert patched.status_code == 200 and patched.json()["description"]["en_US"] == "Pets!"
    tested = client.post(f"{url}/test", {"tool_name": "getPet", "parameters": {"petId": "9"}},
                         format="json")  # fmt: skip
    assert tested.status_code == 200 and tested.json()["json"][0]["path"] == "/v1/pets/9"
    assert pet_server.last.headers["authorization"] == "Bearer sk-secret-abcdef123"
    failed = client.post(f"{url}/test", {"tool_name": "missing"}, format="json")
    assert "status code 404" in failed.json()["error"]
    listed = client.get(f"{BASE}/tool-providers", {"type": "api"}).json()
    assert [p["name"] for p in listed] == ["pets"]
    assert client.delete(url).status_code == 204
    assert not ApiToolProvider.objects.exists()


def test_schema_preview_parses_without_saving():
    client = owner_client(make_workspace())
    answer = client.post(f"{P}/api/schema", {"schema": pet_schema("https://x.example")},
                         format="json")  # fmt: skip
    assert answer.status_code == 200
    data = answer.json()
    assert data["schema_type"] == "openapi" and data["server_url"] == "https://x.example/v1"
    operation = data["parameters_schema"][0]
    assert operation["operation_id"] == "getPet" and operation["method"] == "GET"
    assert [p["name"] for p in operation["parameters"]] == ["petId", "limit"]
    assert not ApiToolProvider.objects.exists()


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("openapi: [3.0\n  paths: {", "neither valid JSON nor valid YAML"),
        ('{"openapi": "3.0.0", "servers": [{"url": "https://x.example"}]}', "no paths"),
        ('{"openapi": "3.0.0", "paths": {"/a": {"get": {"operationId": "a"}}}}',
         "operation a: no server URL"),
    ],
)  # fmt: skip
def test_invalid_openapi_is_400_invalid_param(schema, message):
    client = owner_client(make_workspace())
    for answer in (
        client.post(f"{P}/api/schema", {"schema": schema}, format="json"),
        client.post(f"{P}/api", {"provider": "x", "schema": schema}, format="json"),
    ):
        body = assert_dify_error(answer, 400, "invalid_param")
        assert message in body["message"]
    assert not ApiToolProvider.objects.exists()


def test_bad_input_and_unknown_providers():
    workspace = make_workspace()
    client = owner_client(workspace)
    assert_dify_error(
        client.post(f"{P}/api", {"schema": "x"}, format="json"), 400, "invalid_param"
    )  # fmt: skip  (no name)
    assert create_api(client).status_code == 201
    assert_dify_error(create_api(client), 400, "invalid_param")  # same name again
    unknown = "00000000-0000-0000-0000-000000000000"
    for kind in ("api", "workflow", "mcp"):
        assert_dify_error(client.get(f"{P}/{kind}/{unknown}"), 404, "not_found")
        assert_dify_error(client.get(f"{P}/{kind}/not-a-uuid"), 404, "not_found")
    assert_dify_error(client.get(f"{P}/builtin/nope"), 404, "not_found")
    assert_dify_error(client.get(f"{BASE}/tool-providers", {"type": "x"}), 400, "invalid_param")
    body = {"workflow_app_id": unknown, "name": "x"}
    assert_dify_error(client.post(f"{P}/workflow", body, format="json"), 404, "not_found")


def test_members_without_the_permission_cannot_change_tools():
    workspace = make_workspace()
    normal = console(add_member(workspace, Role.NORMAL), workspace)
    assert_dify_error(create_api(normal), 403, "forbidden")
    assert normal.get(f"{BASE}/tool-providers").status_code == 200


def test_workflow_tool_crud():
    workspace = make_workspace()
    client = owner_client(workspace)
    created = create_workflow_tool(client, workspace)
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["type"] == "workflow" and data["tools"][0]["name"] == "city_echo"
    assert data["tools"][0]["parameters"][0]["llm_description"] == "A city"
    url = f"{P}/workflow/{data['id']}"
    patched = client.patch(url, {"label": "Echo", "parameters": [{"name": "city", "form": "form"}]},
                           format="json")  # fmt: skip
    assert patched.status_code == 200, patched.json()
    assert patched.json()["tools"][0]["parameters"][0]["form"] == "form"
    bad = client.patch(url, {"parameters": [{"name": "nope"}]}, format="json")
    assert_dify_error(bad, 400, "invalid_param")
    assert client.get(url).json()["label"]["en_US"] == "Echo"
    assert client.delete(url).status_code == 204
    assert not WorkflowToolProvider.objects.exists()


def test_mcp_provider_crud_and_refresh(mcp_server, allow_loopback):
    workspace = make_workspace()
    client = owner_client(workspace)
    body = {"name": "Fake", "server_url": mcp_server.streamable_http_url,
            "headers": {"Authorization": "Bearer t-0123456789"}}  # fmt: skip
    created = client.post(f"{P}/mcp", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["type"] == "mcp" and data["server_identifier"] == "fake"
    assert "add" in {t["name"] for t in data["tools"]}
    assert "t-0123456789" not in created.content.decode()
    url = f"{P}/mcp/{data['id']}"
    refreshed = client.post(f"{url}/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["tools"]
    patched = client.patch(url, {"timeout": 5}, format="json")
    assert patched.status_code == 200 and patched.json()["timeout"] == 5
    assert client.delete(url).status_code == 204
    unreachable = dict(body, server_url="http://127.0.0.1:9/mcp")
    answer = client.post(f"{P}/mcp", unreachable, format="json")
    assert_dify_error(answer, 400, "invalid_param")


def test_builtin_credentials_set_list_and_delete(acme, pet_server, allow_loopback):
    workspace = make_workspace()
    client = owner_client(workspace)
    listed = client.get(f"{P}/builtin").json()
    assert "acme" in {p["name"] for p in listed}
    body = {"credentials": {"api_key": KEY, "base_url": pet_server.url}}
    answer = client.post(f"{P}/builtin/acme/credentials", body, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["is_team_authorization"] and KEY not in answer.content.decode()
    refused = {"credentials": {"api_key": "wrong", "base_url": pet_server.url}}
    error = assert_dify_error(client.post(f"{P}/builtin/acme/update", refused, format="json"),
                              400, "invalid_param")  # fmt: skip
    assert "the key was refused" in error["message"]
    assert client.get(f"{P}/builtin/acme/tools").json()[0]["name"] == "whoami"
    providers = client.get(f"{BASE}/tool-providers", {"type": "builtin"}).json()
    acme_payload = next(p for p in providers if p["name"] == "acme")
    assert acme_payload["team_credentials"]["api_key"].startswith("acme*")
    assert client.delete(f"{P}/builtin/acme/credentials").status_code == 204
    assert_dify_error(client.post(f"{P}/builtin/acme/delete"), 404, "not_found")


def test_every_endpoint_refuses_another_workspaces_providers(
    acme, mcp_server, pet_server, allow_loopback
):
    owner_ws, other_ws = make_workspace(), make_workspace()
    owner = owner_client(owner_ws)
    api_id = create_api(owner).json()["id"]
    wf_id = create_workflow_tool(owner, owner_ws).json()["id"]
    mcp_body = {"name": "Fake", "server_url": mcp_server.streamable_http_url}
    mcp_id = owner.post(f"{P}/mcp", mcp_body, format="json").json()["id"]
    body = {"credentials": {"api_key": KEY, "base_url": pet_server.url}}
    assert owner.post(f"{P}/builtin/acme/credentials", body, format="json").status_code == 200

    other = owner_client(other_ws)
    calls = [
        ("get", f"{P}/api/{api_id}", None),
        ("patch", f"{P}/api/{api_id}", {"description": "mine"}),
        ("delete", f"{P}/api/{api_id}", None),
        ("post", f"{P}/api/{api_id}/test", {"tool_name": "getPet", "parameters": {"petId": "1"}}),
        ("get", f"{P}/workflow/{wf_id}", None),
        ("patch", f"{P}/workflow/{wf_id}", {"label": "mine"}),
        ("delete", f"{P}/workflow/{wf_id}", None),
        ("get", f"{P}/mcp/{mcp_id}", None),
        ("patch", f"{P}/mcp/{mcp_id}", {"timeout": 3}),
        ("delete", f"{P}/mcp/{mcp_id}", None),
        ("post", f"{P}/mcp/{mcp_id}/refresh", None),
        ("delete", f"{P}/builtin/acme/credentials", None),
        ("post", f"{P}/builtin/acme/delete", None),
    ]
    for method, url, data in calls:
        answer = getattr(other, method)(url, data, format="json")
        assert_dify_error(answer, 404, "not_found")
    # the other workspace's lists show none of them, and its builtin view is unconfigured
    listed = other.get(f"{BASE}/tool-providers").json()
    assert {p["type"] for p in listed} == {"builtin"}
    assert not next(p for p in listed if p["name"] == "acme")["team_credentials"]
    for kind in ("api", "workflow", "mcp"):
        assert other.get(f"{P}/{kind}").json() == []
    # and the owner's naming the owner workspace from the other account is refused
    intruder = console(owner_of(other_ws), owner_ws)
    assert_dify_error(intruder.get(f"{BASE}/tool-providers"), 404, "not_found")
    assert_dify_error(intruder.get(f"{P}/api/{api_id}"), 404, "not_found")
    # nothing changed for the owner
    assert ApiToolProvider.objects.get(pk=api_id).description != "mine"
    assert McpToolProvider.objects.filter(pk=mcp_id).exists()
    assert WorkflowToolProvider.objects.get(pk=wf_id).label != "mine"
    assert owner.get(f"{P}/builtin/acme").json()["team_credentials"]


def test_tool_endpoints_are_in_the_openapi_schema():
    paths = owner_client(make_workspace()).get("/api/schema/", HTTP_ACCEPT="application/json")
    names = set(paths.json()["paths"])
    assert {
        "/console/api/workspaces/current/tool-providers",
        "/console/api/workspaces/current/tool-provider/api",
        "/console/api/workspaces/current/tool-provider/api/{id}",
        "/console/api/workspaces/current/tool-provider/api/schema",
        "/console/api/workspaces/current/tool-provider/workflow/{id}",
        "/console/api/workspaces/current/tool-provider/mcp/{id}/refresh",
        "/console/api/workspaces/current/tool-provider/builtin/{provider}/credentials",
    } <= names
