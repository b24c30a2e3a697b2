"""MCP servers as tool providers: tools listed on create and refresh (through the SSRF
guard), kept in the database, called through the workspace's ToolInvoker; headers are
encrypted at rest; other workspaces see nothing."""

import pytest
from django.db import connection

from apps.core.errors import InvalidParam
from apps.tenants.crypto import mask_secret
from apps.tools import services
from apps.tools.base import ToolError
from apps.tools.invoker import WorkspaceToolInvoker
from apps.tools.models import McpToolProvider
from apps.tools.payloads import mcp_provider_payload
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db
TOKEN = "Bearer mcp-token-0123456789"


def create(workspace, server, transport="streamable_http", **kwargs):
    url = server.sse_url if transport == "sse" else server.streamable_http_url
    return services.mcp_provider_create(
        workspace=workspace, name=kwargs.pop("name", "Fake MCP"), server_url=url,
        transport=transport, headers={"Authorization": TOKEN}, timeout=20, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
def test_tools_are_listed_on_create_and_called_through_the_invoker(
    mcp_server, allow_loopback, transport
):
    workspace = make_workspace()
    provider = create(workspace, mcp_server, transport)
    assert provider.server_identifier == "fake-mcp"
    names = {t["name"] for t in provider.tools}
    assert {"add", "echo", "lookup"} <= names
    invoker = WorkspaceToolInvoker(workspace)
    described = invoker.describe("mcp", "fake-mcp", "add")
    assert described.parameters["required"] == ["a", "b"]
    result = invoker.invoke(provider_type="mcp", provider_id="fake-mcp", tool_name="add",
                            parameters={"a": "2", "b": 3})  # fmt: skip
    assert result.text == "5"
    assert mcp_server.calls[-1] == ("add", {"a": 2, "b": 3})


def test_headers_reach_the_server_and_are_encrypted_at_rest(mcp_server, allow_loopback):
    workspace = make_workspace()
    provider = create(workspace, mcp_server)
    assert mcp_server.headers[-1]["authorization"] == TOKEN
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tools_mcptoolprovider WHERE id = %s", [provider.pk])
        assert "mcp-token" not in " ".join(str(v) for v in cursor.fetchone())
    payload = mcp_provider_payload(provider)
    assert payload["masked_headers"] == {"Authorization": mask_secret(TOKEN)}
    assert "mcp-token" not in str(payload)
    # a still-masked header keeps its value; the connection is then unchanged (no re-listing)
    services.mcp_provider_update(provider=provider, headers=payload["masked_headers"])
    WorkspaceToolInvoker(workspace).invoke(
        provider_type="mcp", provider_id=str(provider.pk), tool_name="echo",
        parameters={"text": "hi"},
    )  # fmt: skip
    assert mcp_server.headers[-1]["authorization"] == TOKEN


def test_server_not_allow_listed_is_refused(mcp_server):
    with pytest.raises(InvalidParam, match="cannot list the MCP server's tools"):
        create(make_workspace(), mcp_server)
    assert not McpToolProvider.objects.exists()


def test_refresh_keeps_the_tools_and_records_failures(mcp_server, allow_loopback, settings):
    workspace = make_workspace()
    provider = create(workspace, mcp_server)
    provider.tools = []
    provider.save()
    services.mcp_provider_refresh(provider=provider)
    assert {"add", "echo"} <= {t["name"] for t in provider.tools}
    settings.SSRF_ALLOWED_NETWORKS = []
    with pytest.raises(InvalidParam):
        services.mcp_provider_refresh(provider=provider)
    provider.refresh_from_db()
    assert "cannot list" in provider.last_error and provider.tools


def test_mcp_provider_of_another_workspace_is_not_found(mcp_server, allow_loopback):
    owner, other = make_workspace(), make_workspace()
    provider = create(owner, mcp_server)
    for ref in ("fake-mcp", "Fake MCP", str(provider.pk)):
        with pytest.raises(ToolError, match="not found"):
            WorkspaceToolInvoker(other).invoke(
                provider_type="mcp", provider_id=ref, tool_name="add", parameters={"a": 1, "b": 1}
            )


def test_bad_settings_are_invalid_param(mcp_server, allow_loopback):
    workspace = make_workspace()
    with pytest.raises(InvalidParam, match="transport"):
        create(workspace, mcp_server, transport="carrier-pigeon")
    with pytest.raises(InvalidParam, match="server_identifier"):
        create(workspace, mcp_server, server_identifier="Has Spaces")
    create(workspace, mcp_server)
    with pytest.raises(InvalidParam, match="already exists"):
        create(workspace, mcp_server)
