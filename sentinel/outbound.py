"""The one way out: every request to an address a customer chose (webhooks, Slack, the SMS provider) goes through
this guard, so a rule cannot turn the notifier into a scanner of the private network (blind SSRF).

- Scheme: https only, unless `allow_http` (on-premise receivers, tests).
- Address: the host is resolved and every address it resolves to must be public: loopback, private, link-local,
  multicast, reserved, unspecified, shared (100.64/10) and the IPv4 forms hidden in IPv6 (mapped, 6to4, Teredo,
  NAT64) are refused. `http://2130706433`, `http://0x7f.1` and `http://127.1` are loopback: they are resolved
  the way the socket layer reads them, then checked.
- No DNS-rebinding gap: the check runs inside the transport's connect, and the socket connects to the address
  that was vetted, not to a name resolved a second time. TLS still verifies the certificate against the name.
- Redirects: not followed (`max_redirects=0`); when configured, every hop goes through the same transport, so it
  is checked like the first.
- `allow`: hosts (`hooks.internal`, `.corp.example` for a domain and its subdomains) and CIDRs (`10.20.0.0/16`)
  that may be private: on-premise receivers. Only what is listed; `VS_OUTBOUND_ALLOW`.
- Connect and read timeouts; environment proxies are ignored (a proxy would be the address connected to).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from typing import Annotated, Any

import httpcore
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Globally routable by the registries but inside an IPv6 address: the IPv4 address they carry is what is reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefusedError(Exception):
    """The target may not be contacted. `reason` is fixed wording, fit for an API answer and for last_error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: tuple[str, ...] = ()
    allow_http: bool = False
    max_redirects: int = Field(default=0, ge=0, le=10)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("allow", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allow")
    @classmethod
    def _valid_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not a CIDR") from exc
        return tuple(entry.lower() for entry in value)

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        nets = []
        for entry in self.allow:
            if "/" in entry:
                nets.append(ipaddress.ip_network(entry, strict=False))
            else:
                with contextlib.suppress(ValueError):  # a host name otherwise
                    nets.append(ipaddress.ip_network(entry))
        return tuple(nets)

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for entry in self.allow:
            if "/" in entry:
                continue
            if host == entry or (entry.startswith(".") and (host.endswith(entry) or host == entry[1:])):
                return True
        return False

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout_s, connect=self.connect_timeout_s, pool=self.connect_timeout_s)


class OutboundSettings(BaseSettings):
    """`VS_OUTBOUND_ALLOW` (comma-separated hosts and CIDRs), `VS_OUTBOUND_ALLOW_HTTP`, `VS_OUTBOUND_MAX_REDIRECTS`,
    `VS_OUTBOUND_CONNECT_TIMEOUT_S`, `VS_OUTBOUND_READ_TIMEOUT_S`."""

    model_config = SettingsConfigDict(env_prefix="VS_OUTBOUND_", extra="ignore")

    allow: Annotated[tuple[str, ...], NoDecode] = ()
    allow_http: bool = False
    max_redirects: int = 0
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0

    @field_validator("allow", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return OutboundPolicy._split(value)

    def policy(self) -> OutboundPolicy:
        return OutboundPolicy(**self.model_dump())


def outbound_policy_from_env() -> OutboundPolicy:
    return OutboundSettings().policy()


def forbidden_reason(address: IPAddress) -> str | None:
    """Why this address is not a public one (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = forbidden_reason(embedded)
            return f"{reason} inside an IPv6 address" if reason else None
    for check, what in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(address, check):
            return f"{what} address"
    if not address.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and whatever the registries add
        return "a non-public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        # getaddrinfo reads numeric hosts the way connect() would: 2130706433, 0x7f.1 and 127.1 are 127.0.0.1.
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundRefusedError("the host name does not resolve") from exc
    except (UnicodeError, ValueError, OSError) as exc:  # over-long labels, NUL bytes
        raise OutboundRefusedError("the host name is not valid") from exc
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


def vet_host(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """The addresses `host` may be reached at, or OutboundRefusedError. Every address it resolves to must pass: a name
    that answers with one public and one private address is refused, since either may be the one connected to."""
    if not host:
        raise OutboundRefusedError("the URL has no host")
    addresses = _resolve(host, port)
    if policy.host_allowed(host):
        return addresses
    networks = policy.networks
    for address in addresses:
        if any(address in net for net in networks if net.version == address.version):
            continue
        reason = forbidden_reason(address)
        if reason is not None:
            raise OutboundRefusedError(f"the host resolves to {reason} ({address})")
    return addresses


def check_url(url: str, policy: OutboundPolicy, *, resolve: bool = True) -> httpx.URL:
    """Validate a target URL as a request to it would be (scheme, host, addresses). Used when a rule is saved."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefusedError("not a valid URL") from exc
    _check_request_url(parsed, policy)
    if resolve:
        vet_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), policy)
    return parsed


def _check_request_url(url: httpx.URL, policy: OutboundPolicy) -> None:
    if url.scheme == "http" and not policy.allow_http:
        raise OutboundRefusedError("only https URLs are allowed")
    if url.scheme not in ("http", "https"):
        raise OutboundRefusedError(f"the URL scheme {url.scheme or '(none)'!r} is not allowed")
    if url.userinfo:
        # Basic auth to a receiver belongs in its own settings, not in a URL that is stored and shown.
        raise OutboundRefusedError("credentials in the URL are not allowed")


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, vets, and connects to the vetted address itself: there is no second lookup to rebind."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = vet_host(host, port, self._policy)
        error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise OutboundRefusedError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: OutboundPolicy, verify: Any = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._pool.close()
        # httpx builds its pool without a way to pass a network backend; this is the same pool with ours.
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_GuardedBackend(policy))
        self._policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Also runs for every redirect hop httpx follows.
        _check_request_url(request.url, self._policy)
        return super().handle_request(request)


def guarded_client(policy: OutboundPolicy, *, verify: Any = True) -> httpx.Client:
    """An httpx client whose every connection goes through the guard."""
    return httpx.Client(
        transport=GuardedTransport(policy, verify=verify),
        timeout=policy.timeout,
        follow_redirects=policy.max_redirects > 0,
        max_redirects=max(policy.max_redirects, 1),
        trust_env=False,
    )
