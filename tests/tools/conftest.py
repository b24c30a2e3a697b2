"""Fixtures of the tool tests: the recording pet API on 127.0.0.1, the loopback allow-list,
the test built-in provider ``acme`` and a fake MCP server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from apps.tools.builtin import builtin_providers
from tests.fakes.mcp_server import FakeMCPServer
from tests.tools.helpers import AcmeProvider, PetServer, start_pet_server


@pytest.fixture
def pet_server() -> Iterator[PetServer]:
    recorder, server = start_pet_server()
    yield recorder
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    """Let tools reach 127.0.0.1 (the SSRF guard refuses loopback otherwise)."""
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> AcmeProvider:
    """The test built-in provider, registered for this test only."""
    provider = AcmeProvider()
    monkeypatch.setitem(builtin_providers._providers, "acme", provider)
    return provider


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[FakeMCPServer]:
    with FakeMCPServer() as server:
        yield server
