"""Built-in provider credentials of a workspace: validated with a real call, encrypted at
rest, masked when shown, decrypted only for the tool run; other workspaces see nothing."""

import pytest
from django.db import connection

from apps.core.errors import InvalidParam, NotFound
from apps.tenants.crypto import mask_secret
from apps.tools import selectors, services
from apps.tools.base import ToolError
from apps.tools.invoker import WorkspaceToolInvoker
from apps.tools.payloads import builtin_provider_payload
from tests.factories import make_workspace
from tests.tools.helpers import ACME_KEY as KEY

pytestmark = pytest.mark.django_db


def set_credentials(workspace, server, **extra):
    credentials = {"api_key": KEY, "base_url": server.url, **extra}
    return services.builtin_credentials_set(
        workspace=workspace, provider_name="acme", credentials=credentials
    )


def test_credentials_are_checked_with_a_real_call_and_encrypted(acme, pet_server, allow_loopback):
    workspace = make_workspace()
    credential = set_credentials(workspace, pet_server)
    assert pet_server.last.headers["x-key"] == KEY and credential.is_valid
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tools_builtintoolcredential WHERE id = %s", [credential.pk])
        assert KEY not in " ".join(str(v) for v in cursor.fetchone())
    payload = builtin_provider_payload(acme, credential)
    assert payload["team_credentials"]["api_key"] == mask_secret(KEY) == "acme************cdef"
    assert payload["team_credentials"]["region"] == "eu" and payload["is_team_authorization"]
    assert KEY not in str(payload)
    result = WorkspaceToolInvoker(workspace).invoke(
        provider_type="builtin", provider_id="vendor/acme/acme", tool_name="whoami",
        parameters={"shout": "true"}, user_id="u-9",
    )  # fmt: skip
    assert result.text == "ACME/EU/U-9"


def test_masked_secret_keeps_the_stored_value_and_bad_keys_are_refused(
    acme, pet_server, allow_loopback
):
    workspace = make_workspace()
    set_credentials(workspace, pet_server)
    set_credentials(workspace, pet_server, api_key=mask_secret(KEY), region="us")
    stored = selectors.builtin_credentials_for_run(workspace=workspace, provider=acme)
    assert stored == {"api_key": KEY, "region": "us", "base_url": pet_server.url}
    with pytest.raises(InvalidParam, match="acme: credentials are not valid: the key was refused"):
        set_credentials(workspace, pet_server, api_key="wrong")
    with pytest.raises(InvalidParam, match="must be one of eu, us"):
        set_credentials(workspace, pet_server, region="mars")
    with pytest.raises(InvalidParam, match="unknown credential field"):
        set_credentials(workspace, pet_server, colour="red")


def test_validation_goes_through_the_ssrf_guard(acme, pet_server):
    with pytest.raises(InvalidParam, match="not allowed"):
        set_credentials(make_workspace(), pet_server)
    assert pet_server.requests == []


def test_other_workspaces_neither_see_nor_use_the_credentials(acme, pet_server, allow_loopback):
    owner, other = make_workspace(), make_workspace()
    set_credentials(owner, pet_server)
    with pytest.raises(ToolError, match="acme is not authorized in this workspace"):
        WorkspaceToolInvoker(other).invoke(
            provider_type="builtin", provider_id="acme", tool_name="whoami", parameters={}
        )
    with pytest.raises(NotFound):
        services.builtin_credentials_delete(workspace=other, provider_name="acme")
    assert selectors.builtin_credential_get(workspace=owner, provider_name="acme") is not None
    services.builtin_credentials_delete(workspace=owner, provider_name="acme")
    assert selectors.builtin_credential_get(workspace=owner, provider_name="acme") is None


def test_validate_records_the_outcome(acme, pet_server, allow_loopback, settings):
    workspace = make_workspace()
    credential = set_credentials(workspace, pet_server)
    settings.SSRF_ALLOWED_NETWORKS = []
    ok, error = services.builtin_credentials_validate(credential=credential)
    credential.refresh_from_db()
    assert not ok and "not allowed" in error and credential.is_valid is False
