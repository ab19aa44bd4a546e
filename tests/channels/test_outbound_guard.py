"""The outbound guard (sentinel.outbound) with real local receivers: what the default refuses, what the allow-list
opens, redirects, rebinding, and that nothing a receiver answers is kept."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from sentinel.channels import (
    DeliveryError,
    Notification,
    SlackChannel,
    SlackSettings,
    TwilioSettings,
    TwilioSmsChannel,
    WebhookChannel,
    WebhookSettings,
)
from sentinel.outbound import OutboundPolicy, OutboundRefusedError, check_url
from tests.channels.receivers import LOCAL_RECEIVERS, HttpReceiver, start_http_receiver

EVENT = {"type": "alert.created", "id": "alert_1"}
SLACK = {"text": "t", "blocks": []}
HTTP_ONLY = OutboundPolicy(allow_http=True)  # plain http allowed, no allow-list: addresses still checked


def webhook(policy: OutboundPolicy) -> WebhookChannel:
    return WebhookChannel(WebhookSettings(signing_secret=SecretStr("s"), timeout_s=2), policy)


def port_of(receiver: HttpReceiver) -> int:
    return receiver.server.server_address[1]


@pytest.fixture
def second() -> Iterator[HttpReceiver]:
    server = start_http_receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "2130706433", "0x7f.1", "127.1", "017700000001", "[::ffff:127.0.0.1]"],
)
def test_the_default_refuses_loopback_in_every_spelling(receiver: HttpReceiver, host: str) -> None:
    with pytest.raises(DeliveryError) as info:
        webhook(HTTP_ONLY).send(Notification("webhook", f"http://{host}:{port_of(receiver)}/hook", EVENT))
    assert not info.value.retryable
    assert "loopback" in info.value.message
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.7/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://0.0.0.0:5432/", "unspecified"),
        ("https://224.0.0.251/", "multicast"),
        ("https://240.0.0.1/", "private"),
        ("https://100.64.0.1/", "non-public"),
        ("https://[64:ff9b::a00:1]/", "private address inside an IPv6"),
        ("https://[2002:7f00:1::]/", "loopback address inside an IPv6"),
        ("http://8.8.8.8/hook", "only https"),
        ("ftp://8.8.8.8/", "scheme"),
        ("https://user:pw@8.8.8.8/", "credentials"),
    ],
)
def test_the_default_refuses_private_reserved_and_plain_http_targets(url: str, reason: str) -> None:
    with pytest.raises(OutboundRefusedError, match=reason):
        check_url(url, OutboundPolicy())
    with pytest.raises(DeliveryError, match=reason):
        SlackChannel(SlackSettings(timeout_s=1)).send(Notification("slack", url, SLACK))


def test_a_public_https_target_passes_the_check() -> None:
    check_url("https://8.8.8.8/hook", OutboundPolicy())


def test_the_allow_list_opens_exactly_what_it_names(receiver: HttpReceiver) -> None:
    url = f"http://127.0.0.1:{port_of(receiver)}/hook"
    for policy in (
        OutboundPolicy(allow=("127.0.0.1",), allow_http=True),
        OutboundPolicy(allow=("127.0.0.0/8",), allow_http=True),
        OutboundPolicy(allow=("localhost",), allow_http=True),
    ):
        host_url = url.replace("127.0.0.1", "localhost") if "localhost" in policy.allow else url
        webhook(policy).send(Notification("webhook", host_url, EVENT))
    assert len(receiver.requests) == 3
    # The allow-list is not a scheme switch: plain http stays refused without allow_http.
    with pytest.raises(DeliveryError, match="only https"):
        webhook(OutboundPolicy(allow=("127.0.0.1",))).send(Notification("webhook", url, EVENT))
    # Nor does a listed name open other spellings of the same address.
    with pytest.raises(DeliveryError, match="loopback"):
        webhook(OutboundPolicy(allow=("localhost",), allow_http=True)).send(
            Notification("webhook", f"http://2130706433:{port_of(receiver)}/hook", EVENT)
        )


def test_redirects_are_not_followed_by_default(receiver: HttpReceiver, second: HttpReceiver) -> None:
    receiver.respond_with_headers(302, {"Location": f"{second.url}/internal"})
    with pytest.raises(DeliveryError) as info:
        webhook(LOCAL_RECEIVERS).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    assert not info.value.retryable
    assert "redirects are not followed" in info.value.message
    assert second.requests == []


def test_a_followed_redirect_to_a_private_address_is_refused(receiver: HttpReceiver, second: HttpReceiver) -> None:
    # The first receiver is allowed by name; the redirect points at the loopback address itself, which is not.
    policy = OutboundPolicy(allow=("localhost",), allow_http=True, max_redirects=3)
    receiver.respond_with_headers(307, {"Location": f"http://2130706433:{port_of(second)}/internal"})
    with pytest.raises(DeliveryError, match="loopback"):
        webhook(policy).send(Notification("webhook", f"http://localhost:{port_of(receiver)}/hook", EVENT))
    assert len(receiver.requests) == 1
    assert second.requests == []


def test_a_followed_redirect_to_an_allowed_receiver_is_delivered(receiver: HttpReceiver, second: HttpReceiver) -> None:
    policy = OutboundPolicy(allow=("127.0.0.1",), allow_http=True, max_redirects=3)
    receiver.respond_with_headers(307, {"Location": f"{second.url}/moved"})
    webhook(policy).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    assert [r.path for r in second.requests] == ["/moved"]


def test_a_redirect_may_not_downgrade_to_plain_http() -> None:
    policy = OutboundPolicy(max_redirects=2)
    with pytest.raises(OutboundRefusedError, match="only https"):
        check_url("http://8.8.8.8/", policy)


def test_the_socket_connects_to_the_address_that_was_vetted(
    receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that answers an allowed address to the check and another one to the connect. The guard
    resolves once and connects to what it checked, so the second answer is never asked for."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2"])  # 127.0.0.2 is not allowed, and nothing listens there
    asked: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            address = next(answers)
            asked.append(address)
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = OutboundPolicy(allow=("127.0.0.1/32",), allow_http=True)
    webhook(policy).send(Notification("webhook", f"http://rebind.test:{port_of(receiver)}/hook", EVENT))
    assert asked == ["127.0.0.1"]
    assert receiver.requests[0].headers["host"] == f"rebind.test:{port_of(receiver)}"


def test_a_name_resolving_to_one_allowed_and_one_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def split(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "split.test":
            return real("8.8.8.8", port, *args, **kwargs) + real("10.1.1.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", split)
    with pytest.raises(OutboundRefusedError, match="private"):
        check_url("https://split.test/hook", OutboundPolicy())


def test_an_unresolvable_host_is_refused_with_a_reason() -> None:
    with pytest.raises(OutboundRefusedError, match="does not resolve"):
        check_url("https://no-such-host.invalid/hook", OutboundPolicy())


def test_an_error_answer_is_reported_by_status_without_the_receivers_body(receiver: HttpReceiver) -> None:
    receiver.respond(500, b"<html>db password=hunter2, internal page</html>")
    with pytest.raises(DeliveryError) as info:
        webhook(LOCAL_RECEIVERS).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    assert info.value.message == f"{receiver.url} answered 500 Internal Server Error"
    assert info.value.status_code == 500


def test_environment_proxies_are_not_used(receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would be the address really connected to, outside the guard's check.
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.9.9.9:3128")
    webhook(LOCAL_RECEIVERS).send(Notification("webhook", f"{receiver.url}/hook", EVENT))
    assert len(receiver.requests) == 1


def test_the_policy_reads_its_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentinel.channels.settings import channel_settings_from_env
    from sentinel.outbound import outbound_policy_from_env

    env = {"VS_OUTBOUND_ALLOW": "hooks.internal, 10.20.0.0/16", "VS_OUTBOUND_ALLOW_HTTP": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    policy = outbound_policy_from_env()
    assert policy.allow == ("hooks.internal", "10.20.0.0/16") and policy.allow_http
    assert channel_settings_from_env(env).outbound == policy
    assert OutboundPolicy().allow == () and not OutboundPolicy().allow_http
    with pytest.raises(ValueError, match="CIDR"):
        OutboundPolicy(allow=("10.0.0.0/33",))


def test_the_twilio_base_url_goes_through_the_guard(receiver: HttpReceiver) -> None:
    def twilio(base_url: str, policy: OutboundPolicy | None = None) -> TwilioSmsChannel:
        settings = TwilioSettings(account_sid="AC1", auth_token=SecretStr("t"), from_number="+1555", base_url=base_url)
        return TwilioSmsChannel(settings, policy)

    with pytest.raises(OutboundRefusedError, match="only https"):
        twilio(receiver.url)  # a plain http base URL stops the notifier at start
    with pytest.raises(DeliveryError, match="loopback"):
        twilio(receiver.url, HTTP_ONLY).send(Notification("sms", "+15552223333", {"body": "x"}))
    assert receiver.requests == []
