"""Tenant-set model provider base URLs go through the SSRF guard (the openai SDK's httpx2
client dials only addresses the guard checked)."""

from __future__ import annotations

import socket

import httpx2
import pytest

from apps.core.errors import AppError
from apps.providers import services
from apps.providers.models import ProviderCredential
from apps.tools.guarded_httpx import guarded_async_httpx_client, guarded_httpx_client
from apps.tools.http_guard import BlockedRequestError, GuardPolicy
from tests.factories import make_workspace

pytestmark = pytest.mark.django_db


def _compat(base_url: str, api_key: str) -> dict[str, str]:
    return {"base_url": base_url, "api_key": api_key, "models": "fake-chat"}


def test_loopback_provider_base_url_is_refused_unless_allow_listed(settings, fake_openai):
    workspace = make_workspace()
    settings.PROVIDER_ALLOWED_NETWORKS = []
    with pytest.raises(AppError) as info:
        services.provider_credentials_set(
            workspace=workspace,
            provider_name="openai_api_compatible",
            credentials=_compat(fake_openai.base_url, fake_openai.api_key),
        )
    assert "not allowed" in info.value.message and "internal address" in info.value.message
    assert not ProviderCredential.objects.filter(workspace=workspace).exists()
    assert fake_openai.requests == []  # nothing left the process

    settings.PROVIDER_ALLOWED_HOSTS = ["127.0.0.1"]
    services.provider_credentials_set(
        workspace=workspace,
        provider_name="openai_api_compatible",
        credentials=_compat(fake_openai.base_url, fake_openai.api_key),
    )
    assert ProviderCredential.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/v1",
        "http://[::ffff:127.0.0.1]:9/v1",
        "http://2130706433:9/v1",
        "http://10.1.2.3:9/v1",
    ],
)
def test_internal_provider_base_urls_are_refused(settings, base_url):
    settings.PROVIDER_ALLOWED_NETWORKS = []
    with pytest.raises(AppError, match="not allowed"):
        services.provider_credentials_set(
            workspace=make_workspace(),
            provider_name="openai_api_compatible",
            credentials=_compat(base_url, "sk-test"),
        )


def test_allow_list_of_http_nodes_does_not_open_loopback_to_providers_only_the_reverse(
    settings, fake_openai
):
    """PROVIDER_ALLOWED_* widen the guard for providers only."""
    from apps.tools.outbound import guard_policy, provider_guard_policy

    settings.SSRF_ALLOWED_NETWORKS = []
    settings.PROVIDER_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert provider_guard_policy().allowed_networks
    assert not guard_policy().allowed_networks


def _dns_rebinding_name(monkeypatch, answers):
    """Make 'rebind.test' resolve to each of ``answers`` in turn (a rebinding DNS server)."""
    real = socket.getaddrinfo
    calls = iter(answers)

    def fake(host, port, *args, **kwargs):
        if host == "rebind.test":
            return real(next(calls), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_guarded_httpx_client_refuses_loopback_and_allows_listed(fake_openai):
    blocked = guarded_httpx_client(lambda: GuardPolicy())
    with pytest.raises(httpx2.ConnectError, match="internal address"):
        blocked.get(fake_openai.base_url + "/models")
    allowed = guarded_httpx_client(lambda: GuardPolicy.from_lists(["127.0.0.1"]))
    response = allowed.get(
        fake_openai.base_url + "/models",
        headers={"Authorization": f"Bearer {fake_openai.api_key}"},
    )
    assert response.status_code == 200


def test_guarded_httpx_client_refuses_unix_sockets():
    from apps.tools.guarded_httpx import GuardedNetworkBackend

    with pytest.raises(BlockedRequestError):
        GuardedNetworkBackend(lambda: GuardPolicy()).connect_unix_socket("/tmp/x.sock")


def test_guarded_async_client_refuses_loopback(fake_openai):
    import anyio

    async def fetch() -> None:
        async with guarded_async_httpx_client(lambda: GuardPolicy()) as client:
            await client.get(fake_openai.base_url + "/models")

    with pytest.raises(httpx2.ConnectError, match="internal address"):
        anyio.run(fetch)


def test_name_resolving_to_loopback_is_refused(monkeypatch, fake_openai):
    """A public-looking name whose DNS answer is loopback is refused at connect time."""
    _dns_rebinding_name(monkeypatch, ["127.0.0.1"])
    port = fake_openai.base_url.split(":")[2].split("/")[0]
    client = guarded_httpx_client(lambda: GuardPolicy())
    with pytest.raises(httpx2.ConnectError, match="internal address"):
        client.get(f"http://rebind.test:{port}/v1/models")
