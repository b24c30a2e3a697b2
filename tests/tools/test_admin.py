"""Tool providers in the admin: every page renders, secrets are never shown back, forms
check through the services, and the "Test" action makes a real call."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.tenants.crypto import mask_secret
from apps.tools import selectors, services
from apps.tools.models import (
    ApiToolProvider,
    BuiltinToolCredential,
    McpToolProvider,
    WorkflowToolProvider,
)
from tests.factories import make_workspace
from tests.tools.helpers import ACME_KEY as KEY
from tests.tools.helpers import end_node, pet_schema, workflow_app

pytestmark = pytest.mark.django_db
SECRET = "sk-admin-secret-0123456789"
A = "/admin/tools"


@pytest.fixture
def admin_client():
    user = get_user_model().objects.create_superuser("root@example.com", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def run_action(client, model, pk):
    return client.post(f"{A}/{model}/", {"action": "test", "_selected_action": [str(pk)]},
                       follow=True).content.decode()  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [
        f"{A}/builtintoolcredential/", f"{A}/builtintoolcredential/add/",
        f"{A}/builtintoolcredential/add/?provider=acme", f"{A}/apitoolprovider/",
        f"{A}/apitoolprovider/add/", f"{A}/workflowtoolprovider/",
        f"{A}/workflowtoolprovider/add/", f"{A}/mcptoolprovider/", f"{A}/mcptoolprovider/add/",
    ],
)  # fmt: skip
def test_admin_pages_render(admin_client, acme, path):
    make_workspace()
    assert admin_client.get(path).status_code == 200


def test_api_tool_added_masked_and_tested(admin_client, pet_server, allow_loopback):
    workspace = make_workspace()
    form = {
        "workspace": str(workspace.pk), "name": "pets", "description": "", "schema_type": "openapi",
        "schema": pet_schema(pet_server.url), "auth_type": "api_key_header",
        "api_key_header": "Authorization", "api_key_header_prefix": "bearer",
        "api_key_query_param": "key", "api_key_value": SECRET, "privacy_policy": "",
        "custom_disclaimer": "",
    }  # fmt: skip
    response = admin_client.post(f"{A}/apitoolprovider/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = ApiToolProvider.objects.get(workspace=workspace)
    page = admin_client.get(f"{A}/apitoolprovider/{provider.pk}/change/").content.decode()
    assert SECRET not in page and mask_secret(SECRET) in page and "getPet" in page
    # saving again without the key keeps it
    form.update(api_key_value="", description="Pets")
    response = admin_client.post(f"{A}/apitoolprovider/{provider.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider.refresh_from_db()
    assert provider.description == "Pets"
    assert selectors.api_tool_credentials(provider)["api_key_value"] == SECRET
    assert "3 tool(s): getPet, addPet, missing" in run_action(
        admin_client, "apitoolprovider", provider.pk
    )
    assert pet_server.requests  # a real request reached the server
    bad = admin_client.post(f"{A}/apitoolprovider/add/", {**form, "name": "x", "schema": "{"})
    assert bad.status_code == 200 and "neither valid JSON nor valid YAML" in bad.content.decode()


def test_builtin_credentials_added_masked_and_tested(
    admin_client, acme, pet_server, allow_loopback, settings
):
    workspace = make_workspace()
    form = {"workspace": str(workspace.pk), "provider": "acme", "validate": "on",
            "cred_api_key": KEY, "cred_region": "eu", "cred_base_url": pet_server.url}  # fmt: skip
    response = admin_client.post(f"{A}/builtintoolcredential/add/?provider=acme", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = BuiltinToolCredential.objects.get(workspace=workspace)
    page = admin_client.get(f"{A}/builtintoolcredential/{credential.pk}/change/").content.decode()
    assert KEY not in page and mask_secret(KEY) in page
    assert "credentials are valid" in run_action(admin_client, "builtintoolcredential",
                                                 credential.pk)  # fmt: skip
    settings.SSRF_ALLOWED_NETWORKS = []
    assert "test failed" in run_action(admin_client, "builtintoolcredential", credential.pk)
    refused = admin_client.post(
        f"{A}/builtintoolcredential/add/?provider=acme",
        {**form, "workspace": str(make_workspace().pk), "cred_api_key": "nope"},
    )
    assert refused.status_code == 200 and "errornote" in refused.content.decode()


def test_workflow_tool_added_and_tested(admin_client):
    workspace = make_workspace()
    start = {"id": "start", "type": "start",
             "variables": [{"variable": "city", "type": "text-input"}]}  # fmt: skip
    app = workflow_app(workspace, [start, end_node(city=["start", "city"])], [("start", "end")])
    form = {"workspace": str(workspace.pk), "app": str(app.pk), "name": "city_tool",
            "label": "City", "description": "", "privacy_policy": "",
            "parameters": '[{"name": "city", "description": "A city"}]'}  # fmt: skip
    response = admin_client.post(f"{A}/workflowtoolprovider/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = WorkflowToolProvider.objects.get(workspace=workspace)
    assert provider.parameters == [{"name": "city", "description": "A city", "form": "llm"}]
    assert "city_tool(city: string?)" in run_action(admin_client, "workflowtoolprovider",
                                                    provider.pk)  # fmt: skip
    other = {**form, "name": "other", "parameters": '[{"name": "nope"}]'}
    bad = admin_client.post(f"{A}/workflowtoolprovider/add/", other)
    assert "not an input of the workflow" in bad.content.decode()


def test_mcp_provider_added_masked_and_refreshed(admin_client, mcp_server, allow_loopback):
    workspace = make_workspace()
    form = {"workspace": str(workspace.pk), "name": "Fake", "server_identifier": "",
            "server_url": mcp_server.streamable_http_url, "transport": "streamable_http",
            "timeout": "20", "headers": f"Authorization: {SECRET}"}  # fmt: skip
    response = admin_client.post(f"{A}/mcptoolprovider/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    provider = McpToolProvider.objects.get(workspace=workspace)
    assert provider.server_identifier == "fake" and provider.tools
    page = admin_client.get(f"{A}/mcptoolprovider/{provider.pk}/change/").content.decode()
    assert SECRET not in page and mask_secret(SECRET) in page
    # the masked value posted back keeps the stored header
    masked = {**form, "headers": f"Authorization: {mask_secret(SECRET)}"}
    assert (
        admin_client.post(f"{A}/mcptoolprovider/{provider.pk}/change/", masked).status_code == 302
    )
    assert selectors.mcp_headers(McpToolProvider.objects.get()) == {"Authorization": SECRET}
    assert "tool(s): " in run_action(admin_client, "mcptoolprovider", provider.pk)
    assert mcp_server.headers[-1]["authorization"] == SECRET
    services.mcp_provider_delete(provider=provider)
    bad = admin_client.post(f"{A}/mcptoolprovider/add/",
                            {**form, "server_url": "http://127.0.0.1:9/mcp"})  # fmt: skip
    assert bad.status_code == 200 and "cannot list the MCP server" in bad.content.decode()
