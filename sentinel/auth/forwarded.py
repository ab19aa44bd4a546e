"""The client's address: the TCP peer, or what a trusted proxy says the peer was.

Rate limits and the audit log key on this address, so it must not be something a client can write. X-Forwarded-For
is a list each proxy appends its own peer to; only the entries appended by proxies we trust are facts, everything
left of them is whatever the client sent. So: start from the TCP peer; while the address in hand is a trusted
proxy, step one entry left in X-Forwarded-For; the first untrusted address is the client. With no trusted proxies
configured the header is never read.

A client that shares an address with a trusted proxy (a process on the proxy's own host) is indistinguishable from
it: trust only the proxies' addresses, never a whole client network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def parse_networks(values: Iterable[str]) -> list[Network]:
    """CIDRs or single addresses ("10.0.0.0/8", "127.0.0.1"); `ValueError` names the first bad one."""
    networks = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or CIDR network: {text!r}") from exc
    return networks


def _address(text: str) -> Address | None:
    """An entry of X-Forwarded-For ("1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1"), or None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address for a request from `peer` carrying these X-Forwarded-For header values (in order)."""
    if peer is None:
        return "unknown"
    current = _address(peer)
    if current is None:
        return peer  # a unix socket or a test client: nothing a header could override
    if not trusted:
        return str(current)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(current, trusted):
            break
        previous = _address(hop)
        if previous is None:
            break  # garbage can only come from the client side: the last address we could vouch for stands
        current = previous
    return str(current)
