"""The SSRF guard for code that speaks httpx2 (the openai SDK, the mcp SDK).

Those SDKs bring their own HTTP client; we give them one whose *network backend* is
guarded: every new TCP connection resolves the host through ``GuardedHttpClient.resolve``
(which refuses internal addresses unless allow-listed) and connects to exactly the address
it checked, so DNS rebinding between check and connect is impossible. TLS still verifies
the certificate against the host name (httpcore passes the origin's host as SNI, not the
address we dial). Redirects are new connections and so are checked again. Proxies from the
environment are ignored (``trust_env=False``): a proxy would be the only address checked.

The policy is read by a callable at connect time, so settings changed at run time (and
test overrides) apply to clients that are already cached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
import httpcore2
import httpx2

from apps.tools.http_guard import BlockedRequestError, GuardedHttpClient, GuardPolicy

PolicySource = Callable[[], GuardPolicy]

__all__ = [
    "BlockedRequestError",
    "GuardedAsyncNetworkBackend",
    "GuardedNetworkBackend",
    "guarded_async_httpx_client",
    "guarded_httpx_client",
]


def _checked_address(policy_source: PolicySource, host: str, port: int) -> str:
    """The address to dial; a refusal becomes httpcore's ConnectError so that httpx2 and
    the SDKs report it as a connection error with the guard's message."""
    try:
        return str(GuardedHttpClient(policy_source()).resolve(host, port))
    except BlockedRequestError as exc:
        raise httpcore2.ConnectError(str(exc)) from exc


class GuardedNetworkBackend(httpcore2.NetworkBackend):
    def __init__(self, policy_source: PolicySource) -> None:
        self._policy_source = policy_source
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        address = _checked_address(self._policy_source, host, port)
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.NetworkStream:
        raise BlockedRequestError("Unix sockets are not allowed for outbound requests")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedAsyncNetworkBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, policy_source: PolicySource) -> None:
        self._policy_source = policy_source
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        # name resolution blocks: keep it off the event loop
        address = await anyio.to_thread.run_sync(_checked_address, self._policy_source, host, port)
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore2.AsyncNetworkStream:
        raise BlockedRequestError("Unix sockets are not allowed for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(policy_source: PolicySource, **kwargs: Any) -> httpx2.HTTPTransport:
    transport = httpx2.HTTPTransport(trust_env=False, **kwargs)
    transport._pool._network_backend = GuardedNetworkBackend(policy_source)
    return transport


def guarded_async_transport(
    policy_source: PolicySource, **kwargs: Any
) -> httpx2.AsyncHTTPTransport:
    transport = httpx2.AsyncHTTPTransport(trust_env=False, **kwargs)
    transport._pool._network_backend = GuardedAsyncNetworkBackend(policy_source)
    return transport


def guarded_httpx_client(policy_source: PolicySource, **kwargs: Any) -> httpx2.Client:
    """An ``httpx2.Client`` whose every connection goes through the guard."""
    return httpx2.Client(transport=guarded_transport(policy_source), trust_env=False, **kwargs)


def guarded_async_httpx_client(policy_source: PolicySource, **kwargs: Any) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` whose every connection goes through the guard."""
    return httpx2.AsyncClient(
        transport=guarded_async_transport(policy_source), trust_env=False, **kwargs
    )
