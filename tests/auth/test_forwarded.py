"""The client's address: the peer, or what a trusted proxy says, never what the client wrote."""

from __future__ import annotations

import pytest

from sentinel.auth.forwarded import LOOPBACK, client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("127.0.0.1", ["6.6.6.6"], []) == "127.0.0.1"


def test_an_untrusted_peer_is_the_client_whatever_it_writes() -> None:
    assert client_address("203.0.113.9", ["6.6.6.6"], PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client_and_entries_left_of_it_are_the_clients_own_words() -> None:
    assert client_address("10.1.2.3", ["198.51.100.7"], PROXIES) == "198.51.100.7"
    assert client_address("10.1.2.3", ["6.6.6.6, 198.51.100.7"], PROXIES) == "198.51.100.7"
    # two header lines are one list; a chain of trusted proxies is walked through
    assert client_address("127.0.0.1", ["6.6.6.6", "198.51.100.7, 10.9.9.9"], PROXIES) == "198.51.100.7"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::2", "2001:db8::2"),
        ("::ffff:198.51.100.8", "198.51.100.8"),
        ("not-an-address", "10.1.2.3"),  # garbage: the last address we could vouch for stands
        ("", "10.1.2.3"),
    ],
)
def test_entry_forms(header: str, expected: str) -> None:
    assert client_address("10.1.2.3", [header], PROXIES) == expected


def test_no_peer_and_loopback_defaults() -> None:
    assert client_address(None, ["6.6.6.6"], PROXIES) == "unknown"
    assert client_address("::1", ["198.51.100.7"], LOOPBACK) == "198.51.100.7"


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        parse_networks(["10.0.0.0/33"])
