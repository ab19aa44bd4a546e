"""One POST through the outbound guard, with the error classification every HTTP channel shares.

Nothing the receiver answers is kept: an error says the status code and its standard phrase, and only a channel
that needs the answer (Twilio's message SID) reads a bounded prefix of a successful body. A receiver's body in
`notifications.last_error` would make the notifier a way to read internal pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from sentinel.channels.base import DeliveryError, is_retryable_status
from sentinel.outbound import OutboundPolicy, OutboundRefusedError, guarded_client


@dataclass(frozen=True, slots=True)
class Reply:
    status_code: int
    body: bytes  # at most the `read_bytes` the caller asked for; empty otherwise


def post(client: httpx.Client, url: str, *, read_bytes: int = 0, **kwargs: Any) -> Reply:
    """POST and return a 2xx reply, or raise DeliveryError saying whether a retry can help."""
    try:
        with client.stream("POST", url, **kwargs) as response:
            body = _read_prefix(response, read_bytes) if response.is_success and read_bytes else b""
    except OutboundRefusedError as exc:
        # The target itself is not allowed; it will not become allowed by waiting.
        raise DeliveryError(False, f"refused {_host(url)}: {exc.reason}") from None
    except httpx.UnsupportedProtocol:
        raise DeliveryError(False, "unsupported URL scheme") from None
    except httpx.InvalidURL:
        raise DeliveryError(False, "invalid URL") from None
    except httpx.TooManyRedirects:
        raise DeliveryError(False, f"too many redirects from {_host(url)}") from None
    except httpx.ConnectTimeout:
        raise DeliveryError(True, f"timeout connecting to {_host(url)}") from None
    except httpx.TimeoutException:
        raise DeliveryError(True, f"timeout waiting for {_host(url)}") from None
    except httpx.ConnectError:
        # Refused, reset, unreachable: the receiver may be back in a minute. The OS's wording is not kept.
        raise DeliveryError(True, f"cannot connect to {_host(url)}") from None
    except httpx.TransportError:
        raise DeliveryError(True, f"connection to {_host(url)} failed") from None
    status = response.status_code
    if response.is_success:
        return Reply(status, body)
    if response.is_redirect:
        raise DeliveryError(False, f"{_host(url)} answered {status} {_phrase(status)}; redirects are not followed")
    raise DeliveryError(
        is_retryable_status(status), f"{_host(url)} answered {status} {_phrase(status)}", status_code=status
    )


def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(non-standard status)"


def _host(url: str) -> str:
    # Slack webhook URLs carry their secret in the path: never put the whole URL into an error message.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid url>"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def new_client(policy: OutboundPolicy | None, read_timeout_s: float | None = None) -> httpx.Client:
    """A guarded client; a channel's own `timeout_s` can only shorten the policy's read timeout."""
    policy = policy or OutboundPolicy()
    if read_timeout_s is not None and read_timeout_s < policy.read_timeout_s:
        policy = policy.model_copy(update={"read_timeout_s": read_timeout_s})
    return guarded_client(policy)
