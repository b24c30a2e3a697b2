"""The one outbound HTTP client: refuses internal addresses, pins what it checked.

Every request made for a tenant (HTTP node, tools, URL ingestion, provider base URLs) goes
through ``GuardedHttpClient``. It resolves the host itself, refuses loopback, private,
link-local (cloud metadata), multicast, reserved and unspecified addresses (IPv4 and IPv6,
IPv4-mapped IPv6 included; odd spellings such as ``2130706433`` or ``0x7f.1`` are parsed by
the resolver like any client would and then checked), connects to exactly the address it
checked (no DNS rebinding between check and use), re-checks every redirect hop, and caps
response size and time. Operators allow-list hosts or networks in settings.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit

logger = logging.getLogger(__name__)

REDIRECT_CODES = {301, 302, 303, 307, 308}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedRequestError(Exception):
    """The request was refused before it left (address not allowed, bad URL, too large…)."""


@dataclass
class GuardedResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class GuardPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    max_response_bytes: int = 10 * 1024 * 1024
    timeout: float = 30.0
    max_redirects: int = 5

    @classmethod
    def from_lists(
        cls, hosts: Iterable[str] = (), networks: Iterable[str] = (), **kwargs: float | int
    ) -> GuardPolicy:
        return cls(
            allowed_hosts=frozenset(h.lower() for h in hosts if h),
            allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks if n),
            **kwargs,  # type: ignore[arg-type]
        )


def address_is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        address = address.sixtofour
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


class GuardedHttpClient:
    def __init__(self, policy: GuardPolicy | None = None):
        self.policy = policy or GuardPolicy()

    # -- checks ----------------------------------------------------------------------------
    def resolve(self, host: str, port: int) -> IPAddress:
        """The address to connect to, after checking it (raises BlockedRequestError)."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise BlockedRequestError(f"cannot resolve host {host!r}") from exc
        allowed_host = host.lower().rstrip(".") in self.policy.allowed_hosts
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        for address in addresses:
            if allowed_host or any(address in n for n in self.policy.allowed_networks):
                continue
            if not address_is_public(address):
                logger.warning("blocked outbound request to %s (%s)", host, address)
                raise BlockedRequestError(
                    f"requests to {host} ({address}) are not allowed: internal address"
                )
        return addresses[0]

    # -- requests --------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        verify: bool = True,
        follow_redirects: bool = True,
    ) -> GuardedResponse:
        deadline = time.monotonic() + (timeout or self.policy.timeout)
        if params:
            url = url + ("&" if urlsplit(url).query else "?") + urlencode(list(params))
        method = method.upper()
        for _ in range(self.policy.max_redirects + 1):
            response = self._once(method, url, headers or {}, body, deadline, verify)
            location = response.headers.get("location")
            if not (follow_redirects and response.status_code in REDIRECT_CODES and location):
                return response
            url = urljoin(url, location)
            if response.status_code == 303 or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, body = "GET", None
        raise BlockedRequestError(f"more than {self.policy.max_redirects} redirects")

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        verify: bool,
    ) -> GuardedResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlockedRequestError(f"only http(s) URLs with a host are allowed: {url!r}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.resolve(host, port)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request timed out")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection = _PinnedHTTPS(host, port, str(address), context, remaining)
        else:
            connection = _PinnedHTTP(host, port, str(address), remaining)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        sent = {"Host": parts.netloc.rsplit("@", 1)[-1], **headers}
        try:
            connection.request(method, target, body=body, headers=sent)
            raw = connection.getresponse()
            limit = self.policy.max_response_bytes
            content = raw.read(limit + 1)
            if len(content) > limit:
                raise BlockedRequestError(f"response larger than {limit} bytes")
            return GuardedResponse(
                status_code=raw.status,
                headers={k.lower(): v for k, v in raw.getheaders()},
                content=content,
                url=url,
            )
        except TimeoutError as exc:
            raise TimeoutError(f"request to {host} timed out") from exc
        finally:
            connection.close()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, context: ssl.SSLContext, timeout: float):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ssl_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)
