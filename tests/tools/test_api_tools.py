"""Custom API tools end to end: saved from an OpenAPI document, invoked through the
workspace's ToolInvoker against a real server on 127.0.0.1 (through the SSRF guard)."""

import pytest
from django.db import connection

from apps.core.errors import InvalidParam
from apps.tools import services
from apps.tools.base import ToolError
from apps.tools.invoker import WorkspaceToolInvoker
from apps.tools.models import ApiToolProvider
from apps.workflows.adapters import ports_for
from tests.factories import make_workspace
from tests.tools.helpers import pet_schema

pytestmark = pytest.mark.django_db
SECRET = "sk-pets-very-secret-123456"


def make_provider(workspace, server, **credentials):
    return services.api_tool_provider_create(
        workspace=workspace, name="pets", schema=pet_schema(server.url),
        credentials=credentials or {"auth_type": "none"},
    )  # fmt: skip


def invoke(workspace, tool, provider="pets", **parameters):
    return WorkspaceToolInvoker(workspace).invoke(
        provider_type="api", provider_id=provider, tool_name=tool, parameters=parameters,
        user_id="u-1",
    )  # fmt: skip


def test_header_auth_path_query_and_json_body_arrive(pet_server, allow_loopback):
    workspace = make_workspace()
    make_provider(workspace, pet_server, auth_type="api_key_header", api_key_value=SECRET,
                  api_key_header_prefix="bearer")  # fmt: skip
    result = invoke(workspace, "getPet", petId="a b/1", limit="5")
    request = pet_server.last
    assert request.method == "GET" and request.path == "/v1/pets/a%20b%2F1"
    assert request.query == [("limit", "5")]
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert result.json == [{"ok": True, "method": "GET", "path": "/v1/pets/a%20b%2F1",
                            "query": {"limit": "5"}, "body": None}]  # fmt: skip
    assert '"ok": true' in result.text
    invoke(workspace, "addPet", name="Rex", age="3")
    assert pet_server.last.method == "POST" and pet_server.last.body == {"name": "Rex", "age": 3}
    assert pet_server.last.headers["content-type"] == "application/json"


def test_query_auth_and_custom_header(pet_server, allow_loopback):
    workspace = make_workspace()
    provider = make_provider(workspace, pet_server, auth_type="api_key_query",
                             api_key_query_param="token", api_key_value=SECRET)  # fmt: skip
    invoke(workspace, "getPet", provider=str(provider.pk), petId="7")
    assert ("token", SECRET) in pet_server.last.query
    assert "authorization" not in pet_server.last.headers
    services.api_tool_provider_update(
        provider=provider,
        credentials={
            "auth_type": "api_key",
            "api_key_header": "X-Api-Key",
            "api_key_value": "",
            "api_key_header_prefix": "custom",
        },
    )  # fmt: skip  (a blank key keeps the stored one; "api_key" is Dify's older spelling)
    invoke(workspace, "getPet", petId="7")
    assert pet_server.last.headers["x-api-key"] == SECRET


def test_server_not_allow_listed_is_refused(pet_server):
    workspace = make_workspace()
    make_provider(workspace, pet_server)
    with pytest.raises(ToolError, match="not allowed"):
        invoke(workspace, "getPet", petId="1")
    assert pet_server.requests == []


def test_errors_are_tool_errors_naming_the_problem(pet_server, allow_loopback):
    workspace = make_workspace()
    make_provider(workspace, pet_server)
    with pytest.raises(ToolError, match="missing: request failed with status code 404"):
        invoke(workspace, "missing")
    with pytest.raises(ToolError, match="parameter 'petId' is required"):
        invoke(workspace, "getPet")
    with pytest.raises(ToolError, match="tool 'nope' not found in API tool provider pets"):
        invoke(workspace, "nope")
    with pytest.raises(ToolError, match="API tool provider 'other' not found"):
        invoke(workspace, "getPet", provider="other", petId="1")


def test_a_provider_of_another_workspace_is_not_found(pet_server, allow_loopback):
    owner, other = make_workspace(), make_workspace()
    provider = make_provider(owner, pet_server)
    for ref in ("pets", str(provider.pk)):
        with pytest.raises(ToolError, match="not found"):
            invoke(other, "getPet", provider=ref, petId="1")
    assert WorkspaceToolInvoker(other).describe("api", "pets", "getPet") is None
    assert pet_server.requests == []


def test_describe_gives_the_model_schema():
    workspace = make_workspace()
    services.api_tool_provider_create(
        workspace=workspace, name="pets", schema=pet_schema("https://pets.example.com")
    )
    described = WorkspaceToolInvoker(workspace).describe("api", "pets", "addPet")
    assert described.description == "Add a pet"
    assert described.parameters == {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Its name"},
                       "age": {"type": "number"}},
        "required": ["name"],
    }  # fmt: skip


def test_api_key_is_encrypted_at_rest_and_masked(pet_server):
    workspace = make_workspace()
    provider = make_provider(workspace, pet_server, auth_type="api_key_header",
                             api_key_value=SECRET)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tools_apitoolprovider WHERE id = %s", [provider.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert SECRET not in row
    from apps.tools.payloads import api_provider_payload

    payload = api_provider_payload(ApiToolProvider.objects.get(pk=provider.pk))
    assert SECRET not in str(payload)
    assert payload["team_credentials"]["api_key_value"].startswith("sk-p")


def test_bad_schema_and_credentials_are_invalid_param():
    workspace = make_workspace()
    with pytest.raises(InvalidParam, match="invalid schema: the schema has no paths"):
        services.api_tool_provider_create(
            workspace=workspace, name="x",
            schema='{"openapi": "3.0.0", "servers": [{"url": "https://x.example"}]}',
        )  # fmt: skip
    with pytest.raises(InvalidParam, match="api_key_value is required"):
        services.api_tool_provider_create(
            workspace=workspace, name="x", schema=pet_schema("https://x.example"),
            credentials={"auth_type": "api_key_header"},
        )  # fmt: skip
    services.api_tool_provider_create(
        workspace=workspace, name="x", schema=pet_schema("https://x.example")
    )
    with pytest.raises(InvalidParam, match="already exists"):
        services.api_tool_provider_create(
            workspace=workspace, name="x", schema=pet_schema("https://x.example")
        )


def test_ports_for_wires_the_workspace_invoker():
    workspace = make_workspace()
    invoker = ports_for(workspace).tool_invoker
    assert isinstance(invoker, WorkspaceToolInvoker) and invoker.workspace == workspace
