"""One POST with the error classification every HTTP channel shares."""

from __future__ import annotations

from typing import Any

import httpx

from sentinel.channels.base import DeliveryError, is_retryable_status

# Enough of an error body to explain a rejection in `notifications.last_error`, not a whole HTML page.
_ERROR_BODY_CHARS = 300


def post(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST and return a 2xx response, or raise DeliveryError saying whether a retry can help."""
    try:
        response = client.post(url, **kwargs)
    except httpx.UnsupportedProtocol as exc:
        raise DeliveryError(False, f"unsupported URL scheme: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise DeliveryError(True, f"timeout posting to {_host(url)}: {exc!r}") from exc
    except httpx.TransportError as exc:
        # Connection refused / reset / DNS: the receiver may be back in a minute.
        raise DeliveryError(True, f"cannot reach {_host(url)}: {exc!r}") from exc
    except httpx.InvalidURL as exc:
        raise DeliveryError(False, f"invalid URL: {exc}") from exc
    if response.is_success:
        return response
    body = response.text[:_ERROR_BODY_CHARS]
    raise DeliveryError(
        is_retryable_status(response.status_code),
        f"{_host(url)} answered {response.status_code}: {body}",
        status_code=response.status_code,
    )


def _host(url: str) -> str:
    # Slack webhook URLs carry their secret in the path: never put the whole URL into an error message.
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid url>"
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")


def new_client(timeout_s: float, client: httpx.Client | None = None) -> httpx.Client:
    return client if client is not None else httpx.Client(timeout=timeout_s, follow_redirects=False)
